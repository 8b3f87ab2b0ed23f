package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * Nothing acknowledged is lost to a kill -9. A pageserver process ({@link ServerProcess}) follows
 * a real primary under pgbench, with a compaction pass every second and images after 4 records so
 * that compaction is running most of the time, and is killed with SIGKILL at random moments
 * (seeded: {@code -Dcrash.seed}, printed), {@code -Dcrash.rounds} times (20), each followed by a
 * restart on the same data directory. Some kills come as soon as the restarted server has opened
 * its tenant (during its catch-up), the others after the primary wrote a random amount of WAL
 * more. After each kill:
 * <ul>
 *   <li>the flush LSN the primary was told, its slot's restart_lsn once the walsender is gone,
 *       is not past the durable LSN the restarted server resumes from (its log line
 *       "connecting: WAL stream from");
 *   <li>the time from the process start to the tenant receiving WAL again is measured and printed.
 * </ul>
 * At the end, with the load stopped and the pageserver caught up with the primary's final flush
 * LSN, every block of every permanent heap and btree relation of the database equals the
 * primary's (after a checkpoint, masked as wal_consistency_checking masks them).
 */
class CrashIT {
    static final int ROUNDS = Integer.getInteger("crash.rounds", 20);
    static final Pattern CONNECTING = Pattern.compile("connecting: WAL stream from (\\S+)");
    static final String RECEIVING = " streaming from ";
    static final List<String> SERVER_OPTIONS = List.of("-Xmx512m", "-Dpageserver.compaction.interval=1s",
        "-Dpageserver.compaction.image-after=4");

    @TempDir
    Path tmp;

    @Test
    void killNineLosesNothingAcknowledgedAndEveryBlockEqualsThePrimary() throws Exception {
        long seed = Long.getLong("crash.seed", System.nanoTime());
        System.out.println("CrashIT: seed " + seed + " (-Dcrash.seed=" + seed + " repeats the kill moments), "
            + ROUNDS + " rounds");
        Random random = new Random(seed);
        Path dir = tmp.resolve("ps");
        try (PgCluster pg = PgCluster.builder().set("max_wal_size", "'256MB'").start()) {
            pg.pgbench("-i", "-s", "2", "-q");
            ServerProcess ps = ServerProcess.start(dir, SERVER_OPTIONS);
            Process load = null;
            try {
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                awaitLog(ps, RECEIVING, Duration.ofSeconds(60));
                load = startPgbench(pg);
                List<Long> restartMillis = new ArrayList<>();
                for (int round = 0; round < ROUNDS; round++) {
                    boolean duringCatchUp = round % 4 == 3;
                    if (!duringCatchUp) {
                        long bytes = (256 << 10) + random.nextInt(4 << 20);
                        Lsn target = pg.flushLsn().plus(bytes);
                        awaitPrimaryPast(pg, target, load, Duration.ofSeconds(60));
                    }
                    ps.kill();
                    long rocksWal = rocksDbWalBytes(dir);
                    Lsn told = slotFlushLsn(pg, Duration.ofSeconds(30));
                    Files.move(ps.log(), dir.resolve("pageserver-" + round + ".log"));
                    ps = ServerProcess.start(dir, SERVER_OPTIONS, ps.port());
                    Lsn resumed = Lsn.parse(awaitLog(ps, CONNECTING, Duration.ofSeconds(60)).group(1));
                    assertTrue(!resumed.isBefore(told), "round " + round + ": the primary was told " + told
                        + " was flushed, the restarted pageserver resumes from " + resumed);
                    if (!duringCatchUp) {
                        awaitLog(ps, RECEIVING, Duration.ofSeconds(60));
                        restartMillis.add(ps.sinceStartNanos() / 1_000_000);
                    }
                    System.out.println("CrashIT: round " + round + (duringCatchUp ? " (killed during catch-up)" : "")
                        + ": told " + told + ", resumed from " + resumed + "; RocksDB WAL left to replay "
                        + (rocksWal >> 10) + " kB");
                }
                System.out.println("CrashIT: process start to receiving WAL again, ms: " + restartMillis);
                load.destroy();
                load.waitFor();
                load = null;
                ServerProcess last = ps;
                PrimaryPages.assertAllRelationsEqual("CrashIT: " + ROUNDS + " kills,", pg, ps.url(), id,
                    end -> awaitDurable(last, end, Duration.ofSeconds(120)));
            } finally {
                if (load != null) {
                    load.destroy();
                    load.waitFor();
                }
                ps.close();
                keepLogs(dir, "CrashIT");
            }
        }
    }

    /** pgbench -c 4 until destroyed. */
    static Process startPgbench(PgCluster pg) throws IOException {
        return new ProcessBuilder(PgCluster.BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(pg.port()), "-U", "postgres", "-c", "4", "-T", "3600", "postgres")
            .redirectErrorStream(true).redirectOutput(pg.dir().resolve("pgbench.log").toFile()).start();
    }

    static void awaitPrimaryPast(PgCluster pg, Lsn target, Process load, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pg.flushLsn().isBefore(target)) {
            assertTrue(load.isAlive(), "pgbench ended: " + Files.readString(pg.dir().resolve("pgbench.log")));
            assertTrue(System.nanoTime() < deadline, "the primary did not reach " + target);
            Thread.sleep(50);
        }
    }

    /**
     * The flush LSN the pageserver last reported: its slot's restart_lsn, read once the walsender
     * has noticed the connection is gone (the slot inactive), so that nothing is still in flight.
     */
    static Lsn slotFlushLsn(PgCluster pg, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String[] r = pg.psql("select active, restart_lsn from pg_replication_slots "
                + "where slot_name like 'pageserver\\_%'").split("\\|");
            if (r[0].equals("f")) {
                return Lsn.parse(r[1]);
            }
            assertTrue(System.nanoTime() < deadline, "the walsender did not notice the kill");
            Thread.sleep(50);
        }
    }

    /** The first match of {@code pattern} in the server's log, waiting for it. */
    static Matcher awaitLog(ServerProcess ps, Pattern pattern, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Matcher m = pattern.matcher(Files.readString(ps.log()));
            if (m.find()) {
                return m;
            }
            assertTrue(System.nanoTime() < deadline, "no \"" + pattern + "\" in " + timeout + ": "
                + Files.readString(ps.log()));
            Thread.sleep(20);
        }
    }

    static Matcher awaitLog(ServerProcess ps, String text, Duration timeout) throws Exception {
        return awaitLog(ps, Pattern.compile(Pattern.quote(text)), timeout);
    }

    static void awaitDurable(ServerProcess ps, Lsn lsn, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String row = ps.psql("status");
            if (!row.isEmpty() && !Lsn.parse(row.split("\\|", -1)[4]).isBefore(lsn)) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "durable_lsn did not reach " + lsn + ": " + row);
            Thread.sleep(100);
        }
    }

    /** The size of RocksDB's own WAL files (*.log) in the tenants' stores: what their open replays. */
    static long rocksDbWalBytes(Path dir) throws IOException {
        try (var files = Files.walk(dir.resolve("data").resolve("tenants"))) {
            return files.filter(f -> f.getFileName().toString().endsWith(".log")).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    /** The server's logs of every start, kept under target/ for a failed run to be read. */
    static void keepLogs(Path dir, String test) throws IOException {
        Path to = Files.createDirectories(Path.of("target", test + "-logs"));
        try (var logs = Files.list(dir)) {
            for (Path log : logs.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
                Files.copy(log, to.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
