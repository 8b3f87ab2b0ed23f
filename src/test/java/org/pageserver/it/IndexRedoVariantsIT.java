package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * The index workloads of the six index consistency ITs (Hash, GIN, GiST, SP-GiST, BRIN and
 * bloom's generic WAL) under the two configurations they do not run with: a primary with
 * wal_level = logical whose logical replication slot (test_decoding) decodes the WAL after each
 * workload, and one with wal_compression = lz4 (its images compressed). Both with
 * wal_consistency_checking = all: our redo of every page before each record equals the record's
 * image after the rmgr's mask, every record passes the ingest check, and every record type each
 * workload's own IT requires compared is compared here too.
 *
 * <p>Each workload runs in a schema of its own (they share table names). GiST's last step, a
 * restart with wal_level = minimal for ASSIGN_LSN (which registers no block, so has no image to
 * compare), is its own IT's alone: it would leave neither configuration.
 */
class IndexRedoVariantsIT {
    /** One IT's workload and the record types that IT requires compared. */
    record Workload(String schema, String sql, List<String> compared) {
    }

    /** BRIN last: its autosummarize step turns autovacuum on for good. */
    static final List<Workload> WORKLOADS = List.of(
        new Workload("hash", HashRedoConsistencyIT.WORKLOAD, HashRedoConsistencyIT.COMPARED),
        new Workload("gin", GinRedoConsistencyIT.WORKLOAD, GinRedoConsistencyIT.COMPARED),
        new Workload("gist", GistRedoConsistencyIT.WORKLOAD, GistRedoConsistencyIT.COMPARED),
        new Workload("spgist", SpgRedoConsistencyIT.WORKLOAD, SpgRedoConsistencyIT.COMPARED),
        new Workload("generic", GenericRedoConsistencyIT.WORKLOAD, GenericRedoConsistencyIT.COMPARED),
        new Workload("brin", BrinRedoConsistencyIT.WORKLOAD, BrinRedoConsistencyIT.COMPARED));

    static PgCluster.Builder primary() {
        return PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("autovacuum_naptime", "1").set("wal_keep_size", "'4GB'")
            .set("max_wal_size", "'4GB'");
    }

    @Test
    void logicalLevelWithALogicalSlotDecodingTheWal() throws Exception {
        try (PgCluster pg = primary().set("wal_level", "logical").start()) {
            pg.psql("select pg_create_logical_replication_slot('decoder', 'test_decoding')");
            check(pg, "logical", true);
        }
    }

    @Test
    void lz4CompressedWal() throws Exception {
        try (PgCluster pg = primary().set("wal_compression", "lz4").start()) {
            check(pg, "lz4", false);
        }
    }

    private static void check(PgCluster pg, String config, boolean decode) throws Exception {
        pg.psql("checkpoint");
        Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
        long changes = 0;
        for (Workload w : WORKLOADS) {
            pg.psqlScript("create schema " + w.schema() + ";\nset search_path = " + w.schema() + ", public;\n" + w.sql());
            if (w.schema().equals("brin")) {
                BrinRedoConsistencyIT.autosummarize(pg, w.schema());
            }
            if (decode) {
                changes += Long.parseLong(pg.psql("select count(*) from pg_logical_slot_get_changes('decoder', null, null)"));
            }
        }
        Lsn end = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
        pg.psql("select pg_switch_wal()");
        ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20), 1 << 20);
        System.out.println("IndexRedoVariantsIT (" + config + "): " + (end.value() - start.value()) / 1024
            + " kB of WAL" + (decode ? ", " + changes + " rows decoded by the slot" : "") + ", images compared per record type "
            + result.checked());
        System.out.println("IndexRedoVariantsIT (" + config + "): per resource manager " + result.checkedPerRmgr()
            + ", records decoded (each passed the ingest check) " + result.records() + ", mismatches "
            + result.mismatches().size());
        assertEquals(List.of(), result.mismatches().size() > 20 ? result.mismatches().subList(0, 20) : result.mismatches());
        for (Workload w : WORKLOADS) {
            for (String type : w.compared()) {
                assertTrue(result.checked().getOrDefault(type, 0) > 0, w.schema() + ": " + type + " not compared: "
                    + result.checked());
            }
        }
        if (decode) {
            assertTrue(changes > 100_000, changes + " rows decoded");
        }
    }
}
