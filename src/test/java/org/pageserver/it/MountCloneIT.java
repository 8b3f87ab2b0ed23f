package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.pageserver.client.PageClient;
import org.pageserver.mount.CloneFileSystem;
import org.pageserver.mount.PageServerCatalog;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;

/**
 * The mount command end to end: a stock PostgreSQL 15 started on a clone of a pageserver
 * tenant at a past LSN has the primary's data as of that LSN, takes writes, survives its own
 * restart and a remount of the same upper directory, and nothing it writes reaches the
 * pageserver, the primary or another clone at the same LSN.
 */
class MountCloneIT {
    static final Path JAR = Path.of("target/pageserver.jar");
    static final List<String> TABLES = List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers",
        "pgbench_history");

    /** A checksum of every row of each table, in key order. */
    static Map<String, String> checksums(Sql sql) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        for (String t : TABLES) {
            out.put(t, sql.query("select count(*) || ':' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '')"
                + " from " + t + " t"));
        }
        return out;
    }

    interface Sql {
        String query(String sql) throws Exception;
    }

    /** The mount command as a process of its own, as an operator runs it. */
    static final class MountProcess implements AutoCloseable {
        final Process process;
        final String ready;
        final long readyMillis;
        final Path stderr;

        MountProcess(Path dir, String... args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", JAR.toString(), "mount"));
            cmd.addAll(List.of(args));
            stderr = Files.createTempFile(dir, "mount-", ".err");
            long started = System.nanoTime();
            process = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    return null;
                }
            });
            ready = line.get(120, TimeUnit.SECONDS);
            readyMillis = (System.nanoTime() - started) / 1_000_000;
            if (ready == null) {
                process.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError("mount ended without ready: " + Files.readString(stderr));
            }
        }

        /** SIGTERM, as an operator stops it; returns the exit status. */
        int stop() throws Exception {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("mount did not stop on SIGTERM");
            }
            return process.exitValue();
        }

        @Override
        public void close() throws Exception {
            if (process.isAlive()) {
                stop();
            }
        }
    }

    /** A PostgreSQL 15 on the mount point, as the postgres user, on its own port. */
    static final class Compute {
        final PgCluster helper;
        final Path data;
        final int port;
        final Path log;

        Compute(PgCluster helper, Path data) throws IOException {
            this.helper = helper;
            this.data = data;
            this.port = PgCluster.freePort();
            this.log = helper.dir().resolve("compute-" + port + ".log");
        }

        long start() throws Exception {
            long t = System.nanoTime();
            helper.run(List.of(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", log.toString(),
                "-o", "-p " + port + " -k " + helper.dir(), "-w", "-t", "120", "start"), true);
            return (System.nanoTime() - t) / 1_000_000;
        }

        /** pg_ctl stop -m immediate: no shutdown checkpoint, crash recovery at the next start. */
        void stopImmediate() throws Exception {
            helper.run(List.of(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate",
                "-w", "stop"), true);
        }

        void stop() throws Exception {
            helper.run(List.of(PgCluster.BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w",
                "stop"), true);
        }

        String psql(String sql) throws Exception {
            return helper.run(List.of("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                String.valueOf(port), "-U", "postgres", "-d", "postgres", "-c", sql), false).trim();
        }

        /** pgbench's default read-write transaction, without vacuum first (-n). */
        void pgbench(String... args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(PgCluster.BIN.resolve("pgbench").toString(), "-n", "-h",
                "127.0.0.1", "-p", String.valueOf(port), "-U", "postgres"));
            cmd.addAll(List.of(args));
            cmd.add("postgres");
            helper.run(cmd, false);
        }
    }

    /**
     * A SHA-256 of every page of every relation fork the pageserver lists as of {@code at}
     * (catalogs and every database included), each read by GetPage at {@code at} exactly.
     */
    static Map<RelTag, String> pageDigests(String url, SystemId id, Lsn at) throws Exception {
        Map<RelTag, Integer> relations;
        try (PageServerCatalog catalog = PageServerCatalog.connect(url, MountIT.connection())) {
            relations = catalog.relations(id, at);
        }
        Map<RelTag, String> out = new TreeMap<>(Comparator.comparing(RelTag::toString));
        long blocks = 0;
        try (PageClient c = PageClient.connect(url, "postgres", null, id)) {
            for (Map.Entry<RelTag, Integer> r : relations.entrySet()) {
                List<PageStreamRequest> reqs = new ArrayList<>();
                for (int b = 0; b < r.getValue(); b++) {
                    reqs.add(new PageStreamRequest.GetPage(false, at, r.getKey(), b));
                }
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                for (PageStreamResponse resp : c.pipeline(reqs, 32)) {
                    if (!(resp instanceof PageStreamResponse.Page p)) {
                        throw new AssertionError(r.getKey() + " at " + at + ": " + resp);
                    }
                    sha.update(p.page());
                }
                out.put(r.getKey(), r.getValue() + ":" + HexFormat.of().formatHex(sha.digest()));
                blocks += r.getValue();
            }
        }
        System.out.printf("MountCloneIT: %d relation forks, %d pages read at %s%n", out.size(), blocks, at);
        return out;
    }

    /** Three clones at three past LSNs mounted and running at once, each the primary as of its LSN. */
    @Test
    void threeClonesAtThreePastLsnsAtOnce() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--data-checksums").set("autovacuum", "off").start()) {
            Path work = pg.dir();
            try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
                pg.pgbench("-i", "-s", "1", "-q");
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                List<Lsn> lsns = new ArrayList<>();
                List<Map<String, String>> expected = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    pg.pgbench("-c", "2", "-t", "200");
                    lsns.add(pg.flushLsn());
                    expected.add(checksums(pg::psql));
                }
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                List<MountProcess> mounts = new ArrayList<>();
                List<Compute> computes = new ArrayList<>();
                try {
                    for (int i = 0; i < 3; i++) {
                        Path mp = work.resolve("clone" + i);
                        pg.run(List.of("mkdir", mp.toString()), true);
                        mounts.add(new MountProcess(work, "--port", String.valueOf(ps.port()), "--system-id", id.toString(),
                            "--lsn", lsns.get(i).toString(), "--upper", work.resolve("upper" + i).toString(), "--owner",
                            "postgres", mp.toString()));
                        Compute c = new Compute(pg, mp);
                        c.start();
                        computes.add(c);
                    }
                    for (int i = 0; i < 3; i++) {
                        assertEquals(expected.get(i), checksums(computes.get(i)::psql), "clone " + i + " at " + lsns.get(i));
                        pg.run(List.of(PgCluster.BIN.resolve("pg_amcheck").toString(), "--heapallindexed",
                            "--install-missing", "-h", "127.0.0.1", "-p", String.valueOf(computes.get(i).port), "-U",
                            "postgres", "-d", "postgres"), false);
                    }
                    assertEquals(3, expected.stream().distinct().count(), "three different states");
                } finally {
                    for (Compute c : computes) {
                        c.stop();
                    }
                    for (MountProcess m : mounts) {
                        m.close();
                    }
                }
            }
        }
    }

    /** Another LSN than the clone's: the one 8 bytes further. */
    static String expectedOther(Lsn at) {
        return at.plus(8).toString();
    }

    /**
     * One clone at a past LSN through its life: pgbench read-write, a restart of its PostgreSQL,
     * a remount, pgbench again, kill -9 of the mount after an immediate stop and crash recovery
     * on the remount. Then a second clone at the same LSN is the primary as of it, and every page
     * of every relation fork the pageserver has at that LSN reads as before the first clone ran.
     */
    @Test
    void aStockPostgresOnACloneAtAPastLsn() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Path work = pg.dir();
            try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
                pg.pgbench("-i", "-s", "2", "-q");
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                pg.pgbench("-c", "2", "-t", "300");
                Lsn at = pg.flushLsn();
                Map<String, String> expected = checksums(pg::psql);
                pg.pgbench("-c", "2", "-t", "300");
                assertFalse(expected.equals(checksums(pg::psql)), "the primary moved on after the clone's LSN");
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                String db = pg.psql("select oid from pg_database where datname = 'postgres'");
                RelTag accounts = new RelTag(1663, Integer.parseInt(db),
                    Integer.parseInt(pg.psql("select pg_relation_filenode('pgbench_accounts')")), ForkNumber.MAIN);
                byte[] accounts0;
                try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                    accounts0 = c.getPage(accounts, 0, at, false);
                }
                Map<RelTag, String> pagesAtL = pageDigests(ps.url(), id, at);

                Path mp = work.resolve("clone");
                Path upper = work.resolve("upper");
                pg.run(List.of("mkdir", mp.toString()), true);
                String[] args = {"--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn", at.toString(),
                    "--upper", upper.toString(), "--owner", "postgres", mp.toString()};
                Compute compute = new Compute(pg, mp);
                Map<String, String> rewritten;
                try (MountProcess mount = new MountProcess(work, args)) {
                    assertEquals("ready " + mp + " " + id + " " + at, mount.ready);
                    long startMillis = compute.start();
                    System.out.printf("MountCloneIT: mount to ready %d ms, PostgreSQL start %d ms; %s%n", mount.readyMillis,
                        startMillis, Files.readString(mount.stderr).trim());
                    assertEquals(expected, checksums(compute::psql), "the clone is the primary as of " + at);
                    assertEquals("f", compute.psql("select pg_is_in_recovery()"));

                    compute.psql("create table clone_only (id int primary key, v text)");
                    compute.psql("insert into clone_only select g, md5(g::text) from generate_series(1, 5000) g");
                    compute.psql("update pgbench_accounts set abalance = abalance + 1 where aid <= 1000");
                    compute.psql("delete from pgbench_history");
                    compute.pgbench("-c", "2", "-t", "200");
                    compute.psql("vacuum");
                    compute.psql("checkpoint");
                    Map<String, String> written = checksums(compute::psql);
                    compute.stop();
                    compute.start();
                    assertEquals(written, checksums(compute::psql), "after a restart");
                    assertEquals("5000", compute.psql("select count(*) from clone_only"));
                    compute.stop();
                    assertEquals(143, mount.stop(), "SIGTERM ends it");
                    assertFalse(CloneFileSystem.isMounted(mp));

                    try (MountProcess again = new MountProcess(work, args)) {
                        assertEquals("ready " + mp + " " + id + " " + at, again.ready);
                        compute.start();
                        assertEquals(written, checksums(compute::psql), "after a remount");
                        assertEquals("5000", compute.psql("select count(*) from clone_only"));
                        compute.pgbench("-c", "2", "-t", "200");
                        // 400 transactions before the remount (after the history was emptied), 400 after
                        assertEquals("800", compute.psql("select count(*) from pgbench_history"), "pgbench after a remount");
                        rewritten = checksums(compute::psql);
                        compute.psql("insert into clone_only values (5001, 'before a crash')");
                        compute.stopImmediate();
                        again.process.destroyForcibly().waitFor(60, TimeUnit.SECONDS); // kill -9
                    }
                    try (MountProcess afterKill = new MountProcess(work, args)) {
                        assertEquals("ready " + mp + " " + id + " " + at, afterKill.ready, "a stale mount is replaced");
                        compute.start();
                        assertEquals("before a crash", compute.psql("select v from clone_only where id = 5001"),
                            "crash recovery on the clone from its own WAL");
                        assertEquals(rewritten, checksums(compute::psql), "the second pgbench after crash recovery");
                        compute.stop();
                    }
                }

                // a second clone at the same LSN, made after the first one's writes
                Path mp2 = work.resolve("clone2");
                pg.run(List.of("mkdir", mp2.toString()), true);
                Compute second = new Compute(pg, mp2);
                try (MountProcess mount2 = new MountProcess(work, "--port", String.valueOf(ps.port()), "--system-id",
                    id.toString(), "--lsn", at.toString(), "--upper", work.resolve("upper2").toString(), "--owner",
                    "postgres", mp2.toString())) {
                    second.start();
                    try {
                        assertEquals(expected, checksums(second::psql), "a second clone at " + at);
                        assertEquals("", second.psql("select relname from pg_class where relname = 'clone_only'"));
                    } finally {
                        second.stop();
                    }
                }
                String log = Files.readString(compute.log);
                assertFalse(log.contains("could not") || log.contains("PANIC"),
                    "no I/O complaint from the compute (sync_file_range, fsync, unlink...): " + log);
                MountIT.Run otherLsn = MountIT.cli("mount", "--port", String.valueOf(ps.port()), "--system-id",
                    id.toString(), "--lsn", expectedOther(at), "--upper", upper.toString(), mp.toString());
                assertEquals(1, otherLsn.status(), otherLsn.err());
                assertTrue(otherLsn.err().contains("is a clone at LSN " + at), otherLsn.err());
                assertEquals("", pg.psql("select relname from pg_class where relname = 'clone_only'"));
                try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                    assertArrayEquals(accounts0, c.getPage(accounts, 0, at, false), "the pageserver's pages are unchanged");
                }
                Map<RelTag, String> afterClones = pageDigests(ps.url(), id, at);
                List<String> changed = new ArrayList<>();
                for (RelTag rel : pagesAtL.keySet()) {
                    if (!pagesAtL.get(rel).equals(afterClones.get(rel))) {
                        changed.add(rel + " " + pagesAtL.get(rel) + " now " + afterClones.get(rel));
                    }
                }
                afterClones.keySet().stream().filter(rel -> !pagesAtL.containsKey(rel)).forEach(rel -> changed.add(rel + " new"));
                assertEquals(List.of(), changed.subList(0, Math.min(10, changed.size())),
                    changed.size() + " relation forks at " + at + " changed by the clones' writes");
                long upperBytes;
                try (var s = Files.walk(upper.resolve("data"))) {
                    upperBytes = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
                }
                System.out.printf("MountCloneIT: upper directory %d kB of files%n", upperBytes >> 10);
            }
        }
    }
}
