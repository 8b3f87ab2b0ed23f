package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;

/** Two primaries, two tenants: one primary dying leaves the other tenant streaming. */
class TenantIsolationIT {
    @TempDir
    Path tmp;

    @Test
    void aTenantWhosePrimaryDiesDoesNotDisturbTheOther() throws Exception {
        try (PgCluster a = PgCluster.builder().start(); PgCluster b = PgCluster.builder().start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            String idA = ps.psql("callmemaybe " + a.conninfo());
            String idB = ps.psql("callmemaybe " + b.conninfo());
            assertNotEquals(idA, idB, "each initdb has its own system_id");
            assertEquals(2, ps.psql("status").split("\n").length);

            a.close(); // primary A is gone for good
            b.pgbench("-i", "-s", "1", "-q");
            Lsn flushB = b.flushLsn();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            String rowB = "";
            while (System.nanoTime() < deadline) {
                for (String row : ps.psql("status").split("\n")) {
                    if (row.startsWith(idB + "|")) {
                        rowB = row;
                    }
                }
                if (!Lsn.parse(rowB.split("\\|")[4]).isBefore(flushB)) {
                    break;
                }
                Thread.sleep(100);
            }
            assertTrue(!Lsn.parse(rowB.split("\\|")[4]).isBefore(flushB), rowB);
            assertTrue(rowB.contains("|streaming|"), rowB);
            String rowA = ps.psql("status").lines().filter(r -> r.startsWith(idA + "|")).findFirst().orElseThrow();
            assertTrue(rowA.contains("|reconnecting|") || rowA.contains("|starting|") || rowA.contains("|streaming|"), rowA);
        }
    }
}
