package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
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

    static ConsistencyRun primary() {
        return ConsistencyRun.primary().set("autovacuum_naptime", "1");
    }

    @Test
    void logicalLevelWithALogicalSlotDecodingTheWal() throws Exception {
        check(primary().set("wal_level", "logical")
            .setup("select pg_create_logical_replication_slot('decoder', 'test_decoding')"), "logical", true);
    }

    @Test
    void lz4CompressedWal() throws Exception {
        check(primary().set("wal_compression", "lz4"), "lz4", false);
    }

    private static void check(ConsistencyRun primary, String config, boolean decode) throws Exception {
        AtomicLong changes = new AtomicLong();
        ConsistencyRun.Result run = primary.run(pg -> {
            for (Workload w : WORKLOADS) {
                pg.psqlScript("create schema " + w.schema() + ";\nset search_path = " + w.schema() + ", public;\n"
                    + w.sql());
                if (w.schema().equals("brin")) {
                    BrinRedoConsistencyIT.autosummarize(pg, w.schema());
                }
                if (decode) {
                    changes.addAndGet(Long.parseLong(
                        pg.psql("select count(*) from pg_logical_slot_get_changes('decoder', null, null)")));
                }
            }
        });
        ConsistencyCheck result = run.check();
        System.out.println("IndexRedoVariantsIT (" + config + "): " + (run.end().value() - run.start().value()) / 1024
            + " kB of WAL" + (decode ? ", " + changes.get() + " rows decoded by the slot" : "")
            + ", images compared per record type " + result.checked());
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
            assertTrue(changes.get() > 100_000, changes.get() + " rows decoded");
        }
    }
}
