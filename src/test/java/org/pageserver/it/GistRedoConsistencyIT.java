package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * GiST redo against PostgreSQL's own oracle: a primary with wal_consistency_checking = all runs
 * a workload of GiST indexes on points, boxes, tsranges (an exclusion constraint, with a
 * violation), tsvectors and btree_gist text keys big enough for internal and root splits;
 * deletes of whole key ranges and VACUUM (page deletion), VACUUM again once the deleted pages'
 * deleteXid is old and inserts that reuse them (PAGE_REUSE), tuples killed by index scans and
 * pruned by inserts into their full pages (DELETE), an unlogged GiST index, REINDEX INDEX
 * CONCURRENTLY, and after a restart with wal_level = minimal an index filled in the
 * transaction that created it (ASSIGN_LSN). For every record carrying a consistency image our
 * redo of the page before it equals the image after gist_mask, and every record passes the
 * ingest check.
 */
class GistRedoConsistencyIT {
    static final String WORKLOAD = """
        create extension btree_gist;
        create table geo (id int, p point, b box);
        create index geo_p on geo using gist (p);
        create index geo_b on geo using gist (b);
        insert into geo select g, point(g % 100, g / 100),
          box(point(g % 100, g / 100), point(g % 100 + 0.5, g / 100 + 0.5)) from generate_series(1, 4000) g;
        -- page deletion: a whole region emptied, its leaves deleted by VACUUM
        delete from geo where p[1] < 20;
        vacuum geo;
        -- once no snapshot can see them, VACUUM puts the deleted pages in the FSM; inserts reuse them
        select txid_current();
        select txid_current();
        vacuum geo;
        insert into geo select g, point(g % 100, g / 100 + 50),
          box(point(g % 100, g / 100 + 50), point(g % 100 + 0.5, g / 100 + 50.5)) from generate_series(1, 1500) g;
        -- microvacuum: index scans mark dead tuples LP_DEAD, inserts into their full pages prune them
        delete from geo where p[1] >= 20 and p[1] < 35 and id % 4 <> 0;
        set enable_seqscan = off;
        set enable_bitmapscan = off;
        select count(*) from (select * from geo where p <@ box '((0,20),(100,35))') s;
        select count(*) from (select * from geo where b && box '((0,20),(100,35))') s;
        reset enable_seqscan;
        reset enable_bitmapscan;
        insert into geo select g, point(g % 100 + 0.25, 20 + (g / 100) % 15),
          box(point(g % 100 + 0.25, 20 + (g / 100) % 15), point(g % 100 + 0.5, 20.5 + (g / 100) % 15))
          from generate_series(1, 1500) g;
        -- 293-byte keys sharing a 288-byte prefix: btree_gist's internal keys (truncated bounds)
        -- stay about as big, so internal pages split too
        create table tx (id int, k text);
        create index tx_k on tx using gist (k);
        create function key(int) returns text immutable language sql
          as $$ select string_agg(md5(i::text), '' order by i) || lpad($1::text, 5, '0')
                from generate_series(1, 9) i $$;
        insert into tx select g, key(g) from generate_series(1, 1500) g order by md5(g::text);
        delete from tx where id between 300 and 900;
        vacuum tx;
        create table rr (id int, r tsrange, exclude using gist (r with &&));
        insert into rr select g, tsrange('2020-01-01'::timestamp + g * interval '1 hour',
          '2020-01-01'::timestamp + g * interval '1 hour' + interval '30 minutes') from generate_series(1, 2000) g;
        do $$ begin
          insert into rr values (0, tsrange('2020-01-01 10:00', '2020-01-01 12:00'));
        exception when exclusion_violation then null;
        end $$;
        delete from rr where id % 2 = 0;
        vacuum rr;
        create table docs (id int, t tsvector);
        create index docs_t on docs using gist (t);
        insert into docs select g, to_tsvector('simple', 'w' || g % 97 || ' v' || g % 13 || ' u' || g)
          from generate_series(1, 1500) g;
        create unlogged table ul (p point);
        create index ul_p on ul using gist (p);
        insert into ul select point(g, g) from generate_series(1, 2000) g;
        reindex index concurrently geo_b;
        insert into geo select g, point(g % 100, g / 100), box(point(g % 100, g / 100), point(g % 100 + 1, g / 100 + 1))
          from generate_series(1, 500) g;
        """;

    /** Compared: PAGE_UPDATE, DELETE, PAGE_SPLIT, PAGE_DELETE (PAGE_REUSE and ASSIGN_LSN register no block). */
    static final List<String> COMPARED = List.of("Gist/0x0", "Gist/0x10", "Gist/0x30", "Gist/0x60");

    /** Run after the restart with wal_level = minimal: the index needs no WAL, gistGetFakeLSN logs ASSIGN_LSN. */
    static final String MINIMAL = """
        begin;
        create table fresh (p point);
        create index fresh_p on fresh using gist (p);
        insert into fresh select point(g, g) from generate_series(1, 50) g;
        commit;
        """;

    @Test
    void gistRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("wal_keep_size", "'4GB'").set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            pg.psql("alter system set wal_level = minimal");
            pg.psql("alter system set max_wal_senders = 0");
            pg.stop();
            pg.start();
            pg.psqlScript(MINIMAL);
            Lsn end = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            Map<String, Integer> written = gistRecordsWritten(pg, start, end);
            System.out.println("GistRedoConsistencyIT: images compared per record type " + result.checked());
            System.out.println("GistRedoConsistencyIT: Gist records written (pg_waldump) " + written
                + ", records decoded (each passed the ingest check) " + result.records());
            assertEquals(List.of(), result.mismatches());
            // PAGE_REUSE and ASSIGN_LSN register no block: no image to compare; they are counted as
            // written, and the ingest check passed them
            assertEquals(List.of("ASSIGN_LSN", "DELETE", "PAGE_DELETE", "PAGE_REUSE", "PAGE_SPLIT", "PAGE_UPDATE"),
                List.copyOf(written.keySet()));
            for (String type : COMPARED) {
                assertTrue(result.checked().getOrDefault(type, 0) > 0, type + " not exercised: " + result.checked());
            }
            assertTrue(result.unsupported().keySet().stream().noneMatch(t -> t.startsWith("Gist/")),
                result.unsupported()::toString);
            String dump = pg.pgWaldump("-r", "Gist", "-s", start.toString(), "-e", end.toString());
            Map<String, Long> shapes = new TreeMap<>();
            shapes.put("root splits", count(dump, "PAGE_SPLIT .*blkref #1: rel \\S+ blk 0\\b"));
            shapes.put("splits completing a child's split", count(dump, "PAGE_SPLIT .*blkref #0:"));
            shapes.put("downlinks completing a split", count(dump, "PAGE_UPDATE .*blkref #1:"));
            System.out.println("GistRedoConsistencyIT: " + shapes);
            shapes.forEach((what, n) -> assertTrue(n > 0, what + ": " + shapes));
        }
    }

    static long count(String waldump, String regex) {
        Pattern p = Pattern.compile(regex);
        return waldump.lines().filter(l -> p.matcher(l).find()).count();
    }

    /** pg_waldump --stats=record of the Gist records in [start, end): count per record type. */
    static Map<String, Integer> gistRecordsWritten(PgCluster pg, Lsn start, Lsn end) throws Exception {
        String stats = pg.pgWaldump("--stats=record", "-r", "Gist", "-s", start.toString(), "-e", end.toString());
        Map<String, Integer> out = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^Gist/(\\w+)\\s+(\\d+)").matcher(stats);
        while (m.find()) {
            if (Integer.parseInt(m.group(2)) > 0) {
                out.put(m.group(1), Integer.parseInt(m.group(2)));
            }
        }
        return out;
    }
}
