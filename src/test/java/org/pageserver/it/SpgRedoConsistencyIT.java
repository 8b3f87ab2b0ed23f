package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * SP-GiST redo against PostgreSQL's own wal_consistency_checking images: text (long common
 * prefixes, so inner tuples split and grow nodes, on their page or moved off it; values longer
 * than a page), quad-tree and k-d tree points, inet, NULLs, deletes and VACUUM (DEAD chain
 * heads, redirects turned placeholders, a root that is a leaf), an unlogged index and REINDEX
 * CONCURRENTLY. For every SPGist record
 * carrying a consistency image our redo of the page before it equals the image after spg_mask,
 * and every record passes the ingest check.
 *
 * <p>Every record type PG15 writes is produced, in its non-build form only: an index build
 * (CREATE INDEX, REINDEX, the unlogged index's init fork) writes its pages as full-page images
 * (log_newpage_range), never SPGist records, so records with spgxlogState.isBuild set cannot
 * be had from PostgreSQL.
 */
class SpgRedoConsistencyIT {
    static final String WORKLOAD = """
        create table words (id serial, w text);
        create index words_spg on words using spgist (w);
        insert into words (w) select 'http://www.example.com/common/prefix/of/every/row/' || md5(g::text)
          from generate_series(1, 4000) g;
        -- values leaving the long prefix half-way: SPLIT_TUPLE; new next characters: ADD_NODE
        insert into words (w) select 'http://www.example.com/common/' || chr(33 + g % 90) || md5(g::text)
          from generate_series(1, 1500) g;
        insert into words (w) select 'http://www.' || chr(33 + g % 90) || g from generate_series(1, 600) g;
        insert into words (w) select repeat(chr(97 + g % 26), 100 + g % 400) || g from generate_series(1, 600) g;
        insert into words (w) select null from generate_series(1, 800);
        -- 900-byte values in 12 groups: inner tuples with long prefixes fill inner pages, so new
        -- next characters move them (ADD_NODE to another page); values leaving the prefixes
        -- every 100 characters split them again and again, mostly on their parent's page
        insert into words (w) select repeat(chr(65 + g % 12), 900) || chr(33 + g % 5) || g
          from generate_series(1, 300) g;
        insert into words (w) select repeat(chr(65 + g % 12), 900) || chr(40 + g % 50) || g
          from generate_series(1, 300) g;
        insert into words (w) select repeat(chr(65 + g % 12), 100 * (1 + g / 12 % 8)) || 'x' || g
          from generate_series(1, 192) g;
        insert into words (w) select repeat(chr(65 + g % 12), 100 * (1 + g / 12 % 8)) || chr(48 + g % 10) || g
          from generate_series(1, 480) g;
        -- values longer than a page: picksplits chop prefixes off them, on a fresh leaf page
        insert into words (w) select repeat('~', 20000) || g from generate_series(1, 3) g;
        -- short chains deleted whole leave DEAD heads, replaced in place or, for values too big
        -- for their page, moved away with replaceDead
        create table chains (t text);
        create index chains_spg on chains using spgist (t);
        insert into chains select 'k' || chr(48 + g % 75) || '/' || g from generate_series(1, 1500) g;
        delete from chains where ascii(substr(t, 2, 1)) % 2 = 0;
        vacuum chains;
        insert into chains select 'k' || chr(49 + 2 * (g % 37)) || '/' || md5(g::text) from generate_series(1, 600) g;
        insert into chains select 'k' || chr(48 + 2 * (g % 38)) || '/' || repeat('y', 3000) || g
          from generate_series(1, 76) g;
        insert into chains select 'k' || chr(48 + 2 * (g % 38)) || '/' || g from generate_series(1, 300) g;
        create table pts (id int, p point);
        create index pts_quad on pts using spgist (p);
        create index pts_kd on pts using spgist (p kd_point_ops);
        insert into pts select g, point((g * 7919) % 1000, (g * 104729) % 997) from generate_series(1, 6000) g;
        insert into pts select g, point(500 + (g % 10) * 0.001, 500) from generate_series(6001, 7000) g;
        insert into pts select g, null from generate_series(7001, 7300) g;
        create table nets (id int, n inet);
        create index nets_spg on nets using spgist (n);
        insert into nets select g, ('10.' || (g / 256) % 256 || '.' || g % 256 || '.0/' || (16 + g % 17))::inet
          from generate_series(1, 3000) g;
        insert into nets select g, ('2001:db8::' || to_hex(g))::inet from generate_series(1, 1000) g;
        delete from words where id % 3 = 0 or w like 'http://www.example.com/common/!%';
        delete from pts where id % 4 <> 0;
        delete from nets where id % 2 = 0;
        vacuum words, pts, nets;
        insert into words (w) select 'http://www.example.com/common/prefix/of/every/row/' || md5((-g)::text)
          from generate_series(1, 1000) g;
        insert into pts select g, point((g * 31) % 1000, (g * 17) % 1000) from generate_series(1, 2000) g;
        delete from pts where id % 2 = 1;
        vacuum pts;
        vacuum words, nets;
        create table grid (p point);
        create index grid_spg on grid using spgist (p);
        insert into grid select point(g % 24, g / 24) from generate_series(0, 575) g;
        delete from grid where p[0] < 12 and p[1] < 12;
        vacuum grid;
        insert into grid select point(12 + g % 12, g / 12 % 24) from generate_series(0, 143) g;
        insert into grid select point(g % 12, g / 12) from generate_series(0, 143) g;
        create table tiny (p point);
        create index tiny_spg on tiny using spgist (p);
        insert into tiny select point(g, g) from generate_series(1, 60) g;
        delete from tiny where p[0] > 20;
        vacuum tiny;
        create unlogged table ul (w text);
        create index ul_spg on ul using spgist (w);
        insert into ul select 'unlogged/' || g from generate_series(1, 2000) g;
        reindex index concurrently pts_quad;
        insert into pts select g, point((g * 13) % 1000, (g * 29) % 1000) from generate_series(1, 2000) g;
        delete from pts where id % 5 = 0;
        vacuum pts;
        """;

    /** ADD_LEAF, MOVE_LEAFS, ADD_NODE, SPLIT_TUPLE, PICKSPLIT, VACUUM_LEAF, VACUUM_ROOT, VACUUM_REDIRECT. */
    static final List<String> COMPARED = List.of("SPGist/0x10", "SPGist/0x20", "SPGist/0x30", "SPGist/0x40",
        "SPGist/0x50", "SPGist/0x60", "SPGist/0x70", "SPGist/0x80");

    @Test
    void spgistRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("wal_compression", "lz4").set("wal_keep_size", "'4GB'")
            .set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            System.out.println("SpgRedoConsistencyIT: checked per record type " + result.checked());
            System.out.println("SpgRedoConsistencyIT: records decoded (each passed the ingest check) "
                + result.records() + ", blocks of records not redone here " + result.unsupported());
            assertEquals(List.of(), result.mismatches());
            for (String type : COMPARED) {
                assertTrue(result.checked().containsKey(type), type + " not exercised: " + result.checked());
            }
        }
    }
}
