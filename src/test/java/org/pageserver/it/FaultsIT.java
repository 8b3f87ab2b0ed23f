package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.Faults;

/**
 * Recovery from a crash at each fault-injection point ({@link Faults}): a pageserver process
 * follows a real primary under pgbench, with compaction every second, images after 4 records and
 * a 3-second retention window so that all four points are reached. It is started with one point
 * armed at a time (-Dpageserver.faults), dies there by itself (exit status 137, the log saying
 * where), and is restarted with the next point armed; each restart resumes from no earlier than
 * the flush LSN the primary was told. Last, a start with none armed catches up, and every block of
 * every permanent heap and btree relation equals the primary's.
 */
class FaultsIT {
    static final List<String> ARMED = List.of("before-store:crash@40", "mid-flush:crash@40", "image:crash@3",
        "retention:crash@2");
    static final List<String> SERVER_OPTIONS = List.of("-Xmx512m", "-Dpageserver.compaction.interval=1s",
        "-Dpageserver.compaction.image-after=4", "-Dpageserver.retention.window=3s");

    @TempDir
    Path tmp;

    @Test
    void aCrashAtEachFaultPointLosesNothingAcknowledged() throws Exception {
        Path dir = tmp.resolve("ps");
        try (PgCluster pg = PgCluster.builder().set("max_wal_size", "'256MB'").start()) {
            pg.pgbench("-i", "-s", "2", "-q");
            ServerProcess ps = ServerProcess.start(dir, SERVER_OPTIONS);
            Process load = null;
            try {
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                CrashIT.awaitLog(ps, CrashIT.RECEIVING, Duration.ofSeconds(60));
                load = CrashIT.startPgbench(pg);
                int port = ps.port();
                ps.kill();
                for (int i = 0; i <= ARMED.size(); i++) {
                    Lsn told = CrashIT.slotFlushLsn(pg, Duration.ofSeconds(30));
                    Files.move(ps.log(), dir.resolve("pageserver-" + i + ".log"));
                    List<String> options = new ArrayList<>(SERVER_OPTIONS);
                    if (i < ARMED.size()) {
                        options.add("-Dpageserver.faults=" + ARMED.get(i));
                    }
                    ps = ServerProcess.start(dir, options, port);
                    Lsn resumed = Lsn.parse(CrashIT.awaitLog(ps, CrashIT.CONNECTING, Duration.ofSeconds(60)).group(1));
                    assertTrue(!resumed.isBefore(told), "the primary was told " + told
                        + " was flushed, the restarted pageserver resumes from " + resumed);
                    if (i == ARMED.size()) {
                        break;
                    }
                    String point = ARMED.get(i).substring(0, ARMED.get(i).indexOf(':'));
                    assertEquals(Faults.EXIT_STATUS, ps.awaitExit(Duration.ofSeconds(120)), ARMED.get(i));
                    assertTrue(Files.readString(ps.log()).contains("fault injected at " + point + ": the process halts"),
                        Files.readString(ps.log()));
                    System.out.println("FaultsIT: halted at " + point + "; the primary was told " + told
                        + " before, the restart resumed from " + resumed);
                }
                load.destroy();
                load.waitFor();
                load = null;
                ServerProcess last = ps;
                PrimaryPages.assertAllRelationsEqual("FaultsIT", pg, ps.url(), id,
                    end -> CrashIT.awaitDurable(last, end, Duration.ofSeconds(120)));
            } finally {
                if (load != null) {
                    load.destroy();
                    load.waitFor();
                }
                ps.close();
                CrashIT.keepLogs(dir, "FaultsIT");
            }
        }
    }
}
