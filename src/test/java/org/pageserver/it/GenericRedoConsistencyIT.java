package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * Generic WAL redo against PostgreSQL's wal_consistency_checking images, with the contrib
 * index bloom, which writes nothing but generic WAL: its build (full-page images), inserts
 * (deltas of a page and the metapage, new pages as full images), deletes and VACUUM (deltas
 * of the pages it compacts), a concurrent rebuild and an index on an unlogged table. Our redo
 * of every page before each generic record that has a delta, masked as generic_mask does,
 * equals the record's image, and every record passes the ingest check.
 */
class GenericRedoConsistencyIT {
    static final String WORKLOAD = """
        create extension bloom;
        create table bl (a int, b int, c text);
        insert into bl select g, g % 100, md5(g::text) from generate_series(1, 20000) g;
        create index bl_abc on bl using bloom (a, b, c) with (length = 80, col1 = 2, col3 = 4);
        insert into bl select g, g % 7, 'x' || g from generate_series(20001, 25000) g;
        delete from bl where a % 3 = 0;
        vacuum bl;
        insert into bl select g, g % 11, 'y' from generate_series(25001, 27000) g;
        delete from bl where a > 10000;
        vacuum bl;
        reindex index concurrently bl_abc;
        insert into bl select g, 1, 'after reindex' from generate_series(1, 500) g;
        create unlogged table ubl (a int, b int);
        create index ubl_ab on ubl using bloom (a, b);
        insert into ubl select g, g from generate_series(1, 2000) g;
        """;

    /** The one generic record type, with deltas (full-image blocks carry no check image). */
    static final List<String> COMPARED = List.of("Generic/0x0");

    @Test
    void genericRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("wal_keep_size", "'4GB'").set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            System.out.println("GenericRedoConsistencyIT: checked per record type " + result.checked());
            System.out.println("GenericRedoConsistencyIT: records decoded (each passed the ingest check) "
                + result.records() + ", blocks of records not redone here " + result.unsupported());
            assertEquals(List.of(), result.mismatches());
            assertTrue(result.checked().getOrDefault(COMPARED.get(0), 0) > 1000, "Generic deltas: " + result.checked());
        }
    }
}
