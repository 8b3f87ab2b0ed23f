package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * BRIN redo against PostgreSQL's wal_consistency_checking images: a primary with
 * wal_consistency_checking = all builds BRIN indexes (one range per heap page, so the build
 * fills a revmap page and extends the revmap over a regular page, which it evacuates first),
 * widens summaries in place and across pages, summarizes new ranges (brin_summarize_new_values,
 * brin_summarize_range, VACUUM, and autosummarize once autovacuum is turned on), desummarizes
 * ranges, rebuilds an index concurrently and builds one on an unlogged table. Every record type
 * of brin_xlog.h is produced and checked; our redo of every page before each BRIN record, masked
 * as brin_mask does, equals the record's image, and every record passes the ingest check.
 */
class BrinRedoConsistencyIT {
    static final String WORKLOAD = """
        create extension pageinspect;
        -- one 800-byte row per page: 1,500 heap pages, more ranges than one revmap page holds (1,360)
        create table bt (id int, k int, s text, pad text) with (fillfactor = 10);
        insert into bt select g, g, 'a' || g, repeat('x', 800) from generate_series(1, 1500) g;
        create index bt_k on bt using brin (k) with (pages_per_range = 1);
        create index bt_s on bt using brin (s) with (pages_per_range = 4);
        create index bt_multi on bt using brin (k int4_minmax_multi_ops, id int4_bloom_ops) with (pages_per_range = 8);
        -- summaries widened: minmax of an int keeps its size (samepage), of a text grows
        update bt set k = -k where id % 97 = 0;
        update bt set s = repeat('z', 300 + id % 200) where id % 5 = 0;
        -- new ranges, summarized three ways
        insert into bt select g, g, 'b' || g, repeat('y', 800) from generate_series(1501, 1600) g;
        select brin_summarize_range('bt_k', 1550);
        select brin_summarize_new_values('bt_k');
        insert into bt select g, g, 'c' || g, repeat('y', 800) from generate_series(1601, 1650) g;
        vacuum bt;
        select brin_desummarize_range('bt_k', 10);
        select brin_desummarize_range('bt_k', 1400);
        select brin_desummarize_range('bt_s', 0);
        select brin_summarize_range('bt_s', 0);
        reindex index concurrently bt_s;
        create unlogged table ubt (k int);
        insert into ubt select generate_series(1, 10000);
        create index ubt_k on ubt using brin (k) with (pages_per_range = 2);
        insert into ubt select generate_series(1, 1000);
        -- autovacuum will not vacuum at (whose cleanup summarizes too): only the work items do
        create table at (k int) with (fillfactor = 10, autovacuum_enabled = off);
        insert into at select generate_series(1, 200);
        create index at_k on at using brin (k) with (pages_per_range = 1, autosummarize = on);
        insert into at select generate_series(201, 2000);
        """;

    /** CREATE_INDEX, INSERT(+INIT), UPDATE(+INIT), SAMEPAGE_UPDATE, REVMAP_EXTEND, DESUMMARIZE. */
    static final List<String> COMPARED = List.of("BRIN/0x0", "BRIN/0x10", "BRIN/0x90", "BRIN/0x20", "BRIN/0xa0",
        "BRIN/0x30", "BRIN/0x40", "BRIN/0x50");

    /**
     * Autosummarize, after {@link #WORKLOAD} ran in {@code schema}: the inserts into at asked
     * autovacuum to summarize the ranges they left behind; a worker does once autovacuum is on
     * (and it stays on).
     */
    static void autosummarize(PgCluster pg, String schema) throws Exception {
        String unsummarized = "select count(*) from " + schema + ".brin_revmap_data(" + schema + ".get_raw_page('"
            + schema + ".at_k', 1)) where pages = '(0,0)'";
        String before = pg.psql(unsummarized);
        pg.psql("alter system set autovacuum = on");
        pg.psql("select pg_reload_conf()");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (pg.psql(unsummarized).equals(before) && System.nanoTime() < deadline) {
            pg.psql("select pg_sleep(0.2)");
        }
        assertTrue(!pg.psql(unsummarized).equals(before), "autovacuum summarized no range of " + schema + ".at_k within 60 s");
    }

    @Test
    void brinRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("autovacuum_naptime", "1").set("wal_keep_size", "'4GB'")
            .set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            autosummarize(pg, "public");
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            System.out.println("BrinRedoConsistencyIT: checked per record type " + result.checked());
            System.out.println("BrinRedoConsistencyIT: records decoded (each passed the ingest check) "
                + result.records() + ", blocks of records not redone here " + result.unsupported());
            assertEquals(List.of(), result.mismatches());
            for (String type : COMPARED) {
                assertTrue(result.checked().containsKey(type), type + " not exercised: " + result.checked());
            }
        }
    }
}
