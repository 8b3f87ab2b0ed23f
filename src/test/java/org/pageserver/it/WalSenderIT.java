package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The pageserver as a walsender, to the real PostgreSQL 15 clients: pg_receivewal receives
 * segments byte-identical to the primary's, waits for WAL not written yet and gets it once the
 * primary writes it, and is told 58P01 for WAL before what the tenant keeps; pg_basebackup
 * -X stream completes and its directory starts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WalSenderIT {
    static final int SEG = 16 << 20;
    static final String ACCOUNTS = "select md5(string_agg(a::text, ',' order by aid)) from pgbench_accounts a";

    PgCluster pg;
    TestPageServer ps;
    Path work;
    SystemId id;
    /** The primary's flush LSN right after the tenant began to follow it. */
    Lsn followed;

    @BeforeAll
    void followAPrimary() throws Exception {
        work = Files.createTempDirectory("walsenderit-");
        work.toFile().setExecutable(true, false);
        work.toFile().setWritable(true, false);
        // the primary keeps every segment the test compares pg_receivewal's files with (a checkpoint
        // would otherwise recycle those the pageserver has acknowledged)
        pg = PgCluster.builder().set("wal_keep_size", "'1GB'").start();
        pg.pgbench("-i", "-s", "1", "-q");
        ps = TestPageServer.start(work.resolve("ps"));
        id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        followed = pg.flushLsn();
        pg.pgbench("-n", "-c", "2", "-t", "1500");
        pg.psql("select pg_switch_wal()");
        pg.pgbench("-n", "-c", "2", "-t", "300");
        ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
    }

    @AfterAll
    void stop() {
        ps.close();
        pg.close();
    }

    record Result(int exit, String out) {
    }

    /** Runs a client program as user postgres with {@code env}; waits at most {@code seconds}. */
    Result run(Map<String, String> env, long seconds, String... cmd) throws Exception {
        return finish(start(env, cmd), seconds, cmd);
    }

    Process start(Map<String, String> env, String... cmd) throws Exception {
        List<String> full = new ArrayList<>(List.of("runuser", "-u", "postgres", "--", "env"));
        env.forEach((k, v) -> full.add(k + "=" + v));
        full.addAll(List.of(cmd));
        return new ProcessBuilder(full).redirectErrorStream(true).start();
    }

    static Result finish(Process p, long seconds, String... cmd) throws Exception {
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not end");
        }
        return new Result(p.exitValue(), new String(out));
    }

    Path dir(String name) throws Exception {
        Path d = work.resolve(name);
        Files.createDirectories(d);
        new ProcessBuilder("chown", "postgres", d.toString()).start().waitFor();
        return d;
    }

    String[] receivewal(Path dir, Lsn endpos) {
        return new String[] {PgCluster.BIN.resolve("pg_receivewal").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(ps.port()), "-U", "postgres", "--no-loop", "-D", dir.toString(), "--endpos=" + endpos};
    }

    /**
     * Every file pg_receivewal wrote, against the primary's segment: complete segments whole,
     * the partial last one up to the end position. Returns the bytes compared.
     */
    long assertSameAsThePrimary(Path dir, Lsn endpos) throws Exception {
        long compared = 0;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.sorted().toList();
        }
        assertFalse(files.isEmpty(), "pg_receivewal wrote nothing");
        for (Path f : files) {
            String name = f.getFileName().toString();
            long segNo = Long.parseLong(name.substring(8, 16), 16) * (0x100000000L / SEG) + Long.parseLong(name.substring(16, 24), 16);
            Lsn from = new Lsn(segNo * SEG);
            Lsn to = name.endsWith(".partial") ? endpos : from.plus(SEG);
            byte[] mine = Files.readAllBytes(f);
            assertEquals(SEG, mine.length, name);
            byte[] primary = pg.walBytes(from, to, SEG);
            byte[] head = java.util.Arrays.copyOf(mine, primary.length);
            assertArrayEquals(primary, head, name + " differs from the primary's up to " + to);
            compared += primary.length;
        }
        return compared;
    }

    @Test
    void pgReceivewalGetsSegmentsByteIdenticalToThePrimarys() throws Exception {
        Path d = dir("receivewal");
        Lsn endpos = pg.flushLsn();
        // IDENTIFY_SYSTEM answers the lsn option: pg_receivewal starts at that segment
        Result r = run(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=" + followed), 120, receivewal(d, endpos));
        assertEquals(0, r.exit(), r.out());
        long bytes = assertSameAsThePrimary(d, endpos);
        assertTrue(bytes > SEG, "compared only " + bytes + " bytes");
    }

    @Test
    void pgReceivewalWaitsForWalNotWrittenYetAndGetsItOnceWritten() throws Exception {
        Path d = dir("receivewal-wait");
        Lsn now = pg.flushLsn();
        Lsn endpos = now.plus(256 << 10);
        List<String> cmd = new ArrayList<>(List.of(receivewal(d, endpos)));
        cmd.add("--verbose");
        Process p = start(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=" + now), cmd.toArray(String[]::new));
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        StringBuilder log = new StringBuilder();
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            log.append(line).append('\n');
            if (line.contains("starting log streaming at")) {
                break;
            }
        }
        assertTrue(p.isAlive(), "pg_receivewal ended before the primary wrote up to " + endpos + ":\n" + log);
        while (pg.flushLsn().isBefore(endpos)) {
            pg.pgbench("-n", "-c", "1", "-t", "100");
        }
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            log.append(line).append('\n');
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "pg_receivewal did not end:\n" + log);
        assertEquals(0, p.exitValue(), log.toString());
        assertSameAsThePrimary(d, endpos);
    }

    @Test
    void aStartBeforeTheWalKeptIsARemovedSegment() throws Exception {
        Path d = dir("receivewal-old");
        Result r = run(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=0/1000000"), 60, receivewal(d, followed));
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.out().contains("requested WAL segment 000000010000000000000001 has already been removed"), r.out());
    }

    /**
     * A stock standby made from the primary's own backup, with primary_conninfo pointing at
     * the pageserver (hot-standby feedback on): its walreceiver streams from the pageserver and
     * it reaches the primary's data after a load.
     */
    @Test
    void aStandbyFollowsThePrimaryThroughThePageserver() throws Exception {
        Path d = dir("standby-source");
        Result b = run(Map.of(), 300, PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(pg.port()), "-U", "postgres", "-X", "fetch", "-F", "t", "-D", d.toString());
        assertEquals(0, b.exit(), b.out());
        try (PgCluster standby = PgCluster.fromTar(d.resolve("base.tar"))) {
            Path data = standby.dataDir();
            Path extra = work.resolve("standby.conf");
            Files.writeString(extra, "primary_conninfo = 'host=127.0.0.1 port=" + ps.port()
                + " user=postgres options=''-c system_id=" + id + "'''\nhot_standby_feedback = on\n");
            Result w = run(Map.of(), 30, "sh", "-c", "touch " + data.resolve("standby.signal") + " && cat " + extra
                + " >> " + data.resolve("postgresql.conf"));
            assertEquals(0, w.exit(), w.out());
            standby.start();
            pg.pgbench("-n", "-c", "2", "-t", "300");
            Lsn target = pg.flushLsn();
            String expected = pg.psql(ACCOUNTS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            Lsn replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
            while (replayed.isBefore(target) && System.nanoTime() < deadline) {
                replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
            }
            assertFalse(replayed.isBefore(target), "the standby replayed up to " + replayed + " only, not " + target);
            assertEquals(expected, standby.psql(ACCOUNTS));
            String log = Files.readString(standby.logFile());
            assertTrue(log.contains("started streaming WAL from primary"), log);
        }
    }

    Result pgBasebackup(String options, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1",
            "-p", String.valueOf(ps.port()), "-U", "postgres", "-X", "stream"));
        cmd.addAll(List.of(args));
        return run(Map.of("PGOPTIONS", options), 300, cmd.toArray(String[]::new));
    }

    @Test
    void pgBasebackupWithStreamedWalCompletesVerifiesAndStarts() throws Exception {
        Path d = work.resolve("stream-plain");
        Result r = pgBasebackup("-c system_id=" + id, "-D", d.toString());
        assertEquals(0, r.exit(), r.out());
        Result v = run(Map.of(), 120, PgCluster.BIN.resolve("pg_verifybackup").toString(), d.toString());
        assertEquals(0, v.exit(), v.out());
        Path tar = work.resolve("stream-plain.tar");
        Process t = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", d.toString(), ".").redirectErrorStream(true)
            .start();
        assertEquals(0, finish(t, 120, "tar").exit());
        try (PgCluster restored = PgCluster.fromTar(tar)) {
            restored.start();
            assertFalse(restored.psql(ACCOUNTS).isEmpty());
        }
    }

    /**
     * At a past LSN the primary's WAL goes on in the backup's segment; what pg_basebackup
     * streams (pg_wal.tar in tar format) must be the backup's segment and the history file of
     * its timeline (the primary's plus one), as base.tar holds them.
     */
    @Test
    void theWalStreamedToPgBasebackupIsTheBackupsOwnSegment() throws Exception {
        Path d = dir("stream-tar");
        Result r = pgBasebackup("-c system_id=" + id + " -c lsn=" + followed, "-F", "t", "-D", d.toString());
        assertEquals(0, r.exit(), r.out());
        Map<String, byte[]> streamed = walEntries(d.resolve("pg_wal.tar"));
        Map<String, byte[]> inBase = walEntries(d.resolve("base.tar"));
        String backupTimeline = String.format("%08X", Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()")) + 1);
        assertEquals(2, inBase.size(), inBase.keySet().toString());
        assertTrue(inBase.containsKey(backupTimeline + ".history"), inBase.keySet().toString());
        String segment = inBase.keySet().stream().filter(n -> n.length() == 24).findFirst().orElseThrow();
        assertTrue(segment.startsWith(backupTimeline), segment);
        assertEquals(inBase.keySet(), streamed.keySet());
        for (String name : inBase.keySet()) {
            assertArrayEquals(inBase.get(name), streamed.get(name), name);
        }
        Lsn segmentStart = new Lsn(Long.parseLong(segment.substring(16, 24), 16) * SEG);
        assertFalse(java.util.Arrays.equals(pg.walBytes(segmentStart, segmentStart.plus(8192), SEG),
            java.util.Arrays.copyOf(streamed.get(segment), 8192)), "the primary's WAL was streamed");
        try (PgCluster restored = PgCluster.fromTar(d.resolve("base.tar"))) {
            restored.start();
            assertFalse(restored.psql(ACCOUNTS).isEmpty());
        }
    }

    /** The WAL segments and timeline history files in a tar (by file name), whatever directory they are in. */
    static Map<String, byte[]> walEntries(Path tar) throws Exception {
        Map<String, byte[]> out = new java.util.TreeMap<>();
        try (org.apache.commons.compress.archivers.tar.TarArchiveInputStream in =
                 new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(Files.newInputStream(tar))) {
            for (var e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                String name = Path.of(e.getName()).getFileName().toString();
                if (e.isFile() && name.matches("[0-9A-F]{24}|[0-9A-F]{8}\\.history")) {
                    out.put(name, in.readAllBytes());
                }
            }
        }
        return out;
    }
}
