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
 * Hash index redo against PostgreSQL's own page images: a primary with wal_consistency_checking
 * = all runs a workload of every Hash record type, and for every record carrying images our
 * redo of each page from its previous state equals the primary's page after hash_mask.
 *
 * <p>Every type is produced; SPLIT_PAGE carries its page as an image to restore (never one
 * to compare with), so it shows in pg_waldump's count only. Two block variants cannot be
 * produced by a test: ADD_OVFL_PAGE's new bitmap page (block 3) comes only past the 32768
 * overflow pages one bitmap page maps, a 256 MB index; and SQUEEZE_PAGE's next page (block 4)
 * never, since _hash_squeezebucket frees only the last page of a bucket chain.
 */
class HashRedoConsistencyIT {
    static final String WORKLOAD = """
        create table h (k int, pad int);
        -- fillfactor 10: a bucket splits past 40 tuples
        create index h_k on h using hash (k) with (fillfactor = 10);
        -- distinct keys: 2 buckets split again and again
        insert into h select g, 0 from generate_series(10, 1000) g;
        -- key 1 2000 times: a chain of five pages (407 tuples a page); key 2 two pages
        insert into h select 1, g from generate_series(1, 2000) g;
        insert into h select 2, g from generate_series(1, 800) g;
        -- buckets holding chains split: their tuples fill new pages whole
        insert into h select g, 0 from generate_series(1001, 2500) g;
        -- a third of key 1 deleted: VACUUM squeezes the chain, moving tuples page after page
        -- past the primary bucket page; overflow pages freed, split leftovers cleaned up
        delete from h where (k = 1 and pad % 3 = 0) or (k = 2 and pad % 4 <> 0) or (k >= 10 and k % 4 = 0);
        vacuum h;
        -- freed overflow pages are taken again
        insert into h select 2, g from generate_series(1, 600) g;
        -- dead tuples killed by an index scan, then inserts into their full page vacuum it first
        insert into h select 7, g from generate_series(1, 900) g;
        delete from h where k = 7 and pad % 2 = 0;
        set enable_seqscan = off;
        set enable_bitmapscan = off;
        select count(*) from h where k = 7;
        reset enable_seqscan;
        reset enable_bitmapscan;
        insert into h select 7, g from generate_series(1, 300) g;
        -- the default fill factor
        create table d (k int);
        create index d_k on d using hash (k);
        insert into d select generate_series(1, 1500);
        -- an index built over rows (more initial buckets), concurrently
        create table r (k int);
        insert into r select generate_series(1, 1000);
        create index r_k on r using hash (k);
        reindex index concurrently r_k;
        -- an index over what the planner takes for 300000 rows: 1024 initial buckets, a bucket
        -- count past the splitpoint groups of one phase
        create table big (k int);
        insert into big values (1);
        update pg_class set reltuples = 300000, relpages = 1 where relname = 'big';
        create index big_k on big using hash (k);
        -- an unlogged hash index: only its init fork is logged
        create unlogged table hu (k int);
        create index hu_k on hu using hash (k);
        insert into hu select generate_series(1, 100);
        """;

    static final List<String> TYPES = List.of("INIT_META_PAGE", "INIT_BITMAP_PAGE", "INSERT", "ADD_OVFL_PAGE",
        "SPLIT_ALLOCATE_PAGE", "SPLIT_PAGE", "SPLIT_COMPLETE", "MOVE_PAGE_CONTENTS", "SQUEEZE_PAGE", "DELETE",
        "SPLIT_CLEANUP", "UPDATE_META_PAGE", "VACUUM_ONE_PAGE");

    /** Every Hash record type by xl_info but SPLIT_PAGE (0x50), whose one image is applied, never compared. */
    static final List<String> COMPARED = List.of("Hash/0x0", "Hash/0x10", "Hash/0x20", "Hash/0x30", "Hash/0x40",
        "Hash/0x60", "Hash/0x70", "Hash/0x80", "Hash/0x90", "Hash/0xa0", "Hash/0xb0", "Hash/0xc0");

    @Test
    void hashRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("wal_keep_size", "'4GB'").set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            Lsn end = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            Map<String, Integer> written = new TreeMap<>();
            Matcher m = Pattern.compile("Hash/(\\w+) +(\\d+) ").matcher(
                pg.pgWaldump("-s", start.toString(), "-e", end.toString(), "-r", "Hash", "--stats=record"));
            while (m.find()) {
                written.put(m.group(1), Integer.parseInt(m.group(2)));
            }
            String listing = pg.pgWaldump("-s", start.toString(), "-e", end.toString(), "-r", "Hash");
            System.out.println("HashRedoConsistencyIT: Hash records written " + written + ", images compared "
                + result.checked() + ", records not redone " + result.unsupported());
            assertEquals(List.of(), result.mismatches());
            assertEquals(TYPES.stream().sorted().toList(), List.copyOf(written.keySet()), "record types written");
            for (String type : COMPARED) {
                assertTrue(result.checked().getOrDefault(type, 0) > 0, type + " not compared: " + result.checked());
            }
            // the variants: a write page past the primary bucket page (whose block 0 is only
            // locked), a freed overflow page taken again, the init fork
            for (String variant : List.of("SQUEEZE_PAGE .*is_primary F", "MOVE_PAGE_CONTENTS .*is_primary F",
                "DELETE .*is_primary F", "ADD_OVFL_PAGE .*bmpage_found T", "INIT_META_PAGE .*fork init")) {
                assertTrue(Pattern.compile(variant).matcher(listing).find(), variant + " not in the WAL");
            }
        }
    }
}
