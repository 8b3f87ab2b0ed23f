package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.pageserver.mount.CloneFileSystem;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The pageserver failing under a running clone, end to end (the mount command, a stock
 * PostgreSQL on it): a query that needs pages while the pageserver restarts waits for it and
 * answers as of the clone's LSN; with the pageserver gone for good, it fails with an I/O error,
 * never with wrong or zeroed data. The mount process killed under a running PostgreSQL is a
 * crash of its filesystem: nothing it had not committed survives, everything it committed does.
 * A clone below the tenant's retention horizon is refused. MountIT has the first two at the
 * filesystem level.
 */
class MountFaultsIT {
    static final String ACCOUNTS = "select count(*) || ':' || sum(abalance) from pgbench_accounts";

    /** A primary, a pageserver following it, and the primary's accounts as of the clone's LSN. */
    record Setup(PgCluster pg, Path psData, TestPageServer ps, SystemId id, Lsn at, String accounts) {
    }

    static Setup setUp(PgCluster pg) throws Exception {
        pg.pgbench("-i", "-s", "2", "-q");
        Path psData = pg.dir().resolve("ps");
        TestPageServer ps = TestPageServer.start(psData);
        SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        pg.pgbench("-c", "2", "-t", "200");
        Lsn at = pg.flushLsn();
        String accounts = pg.psql(ACCOUNTS);
        ps.awaitDurable(at, Duration.ofSeconds(60));
        return new Setup(pg, psData, ps, id, at, accounts);
    }

    static MountCloneIT.MountProcess mount(Setup s, int port) throws Exception {
        s.pg().run(List.of("mkdir", "-p", s.pg().dir().resolve("clone").toString()), true);
        return remount(s, port);
    }

    /** The same mount command on the same mount point and upper directory, which must be there. */
    static MountCloneIT.MountProcess remount(Setup s, int port) throws Exception {
        return new MountCloneIT.MountProcess(s.pg().dir(), "--port", String.valueOf(port), "--system-id",
            s.id().toString(), "--lsn", s.at().toString(), "--upper", s.pg().dir().resolve("upper").toString(), "--owner",
            "postgres", s.pg().dir().resolve("clone").toString());
    }

    @Test
    void aQueryOnARunningCloneWaitsForARestartedPageserver() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Setup s = setUp(pg);
            int port = s.ps().port();
            TestPageServer ps = s.ps();
            try (MountCloneIT.MountProcess mount = mount(s, port)) {
                MountCloneIT.Compute compute = new MountCloneIT.Compute(pg, pg.dir().resolve("clone"));
                compute.start();
                try {
                    ps.close();
                    // pgbench_accounts has not been read yet: every page of it is a GetPage
                    CompletableFuture<String> query = CompletableFuture.supplyAsync(() -> {
                        try {
                            return compute.psql(ACCOUNTS);
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    ps = TestPageServer.start(s.psData(), port, Map.of());
                    assertEquals(s.accounts(), query.get(120, TimeUnit.SECONDS), "answered as of " + s.at());
                } finally {
                    compute.stop();
                }
            } finally {
                ps.close();
            }
        }
    }

    @Test
    void withThePageserverGoneAQueryFailsWithAnIoErrorNotWrongData() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Setup s = setUp(pg);
            try (MountCloneIT.MountProcess mount = mount(s, s.ps().port())) {
                MountCloneIT.Compute compute = new MountCloneIT.Compute(pg, pg.dir().resolve("clone"));
                compute.start();
                try {
                    s.ps().close();
                    Exception e = assertThrows(Exception.class, () -> compute.psql(ACCOUNTS));
                    assertTrue(e.getMessage().contains("could not read block") && e.getMessage()
                        .contains("Input/output error"), e.getMessage());
                } finally {
                    compute.helper.run(List.of(PgCluster.BIN.resolve("pg_ctl").toString(), "-D",
                        compute.data.toString(), "-m", "immediate", "-w", "stop"), true);
                }
            }
        }
    }

    /**
     * kill -9 of the mount process while PostgreSQL runs on it, with fsync on (the primary's
     * configuration the clone starts with has it off): a read then either fails or answers what
     * was committed, and a commit fails (its WAL cannot reach the upper directory). PostgreSQL
     * killed, the mount command run again replaces the stale mount on the same upper directory,
     * and PostgreSQL's crash recovery there has every transaction committed before the kill and
     * none after.
     */
    @Test
    void killingTheMountUnderARunningPostgresKeepsWhatItCommitted() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Setup s = setUp(pg);
            try {
                killedUnderARunningPostgres(s);
            } finally {
                s.ps().close();
            }
        }
    }

    private static void killedUnderARunningPostgres(Setup s) throws Exception {
        PgCluster pg = s.pg();
        Path mp = pg.dir().resolve("clone");
        MountCloneIT.Compute compute = new MountCloneIT.Compute(pg, mp);
        Map<String, String> committed;
        try (MountCloneIT.MountProcess mount = mount(s, s.ps().port())) {
            compute.start();
            ProcessHandle postmaster = ProcessHandle.of(Long.parseLong(
                Files.readAllLines(mp.resolve("postmaster.pid")).get(0).trim())).orElseThrow();
            try {
                compute.psql("alter system set fsync = on");
                compute.psql("select pg_reload_conf()");
                Conditions.await(Duration.ofSeconds(30), () -> compute.psql("show fsync").equals("on"),
                    () -> "fsync on in the clone");
                compute.psql("create table committed_before_kill (id int primary key, v text)");
                compute.psql("insert into committed_before_kill select g, md5(g::text) from generate_series(1, 10000) g");
                compute.pgbench("-c", "2", "-t", "200");
                committed = MountCloneIT.checksums(compute::psql);
                String accounts = compute.psql(ACCOUNTS);

                // a session opened before the kill: its backend has what it needs to start
                try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + compute.port
                    + "/postgres?user=postgres"); Statement st = c.createStatement()) {
                    st.execute("select 1");
                    mount.process.destroyForcibly().waitFor(60, TimeUnit.SECONDS);
                    assertTrue(CloneFileSystem.isStale(mp), "a stale mount left behind");
                    String read;
                    try (ResultSet rs = st.executeQuery(ACCOUNTS)) {
                        assertTrue(rs.next());
                        assertEquals(accounts, rs.getString(1), "a read after the kill that answers");
                        read = "answered as committed";
                    } catch (SQLException failed) {
                        // an I/O error is the other right answer (a read is an ERROR, not a PANIC)
                        read = failed.getMessage();
                    }
                    SQLException commit = assertThrows(SQLException.class,
                        () -> st.execute("insert into committed_before_kill values (0, 'after the kill')"));
                    System.out.println("MountFaultsIT: after the kill a read: " + read + "; a commit: "
                        + commit.getMessage());
                }
            } finally {
                // pg_ctl cannot read postmaster.pid on the stale mount: the server's process
                // group (pg_ctl starts it in a session of its own) killed instead
                List<ProcessHandle> server = new ArrayList<>(postmaster.descendants().toList());
                server.add(postmaster);
                pg.run(List.of("sh", "-c", "kill -KILL -- -" + postmaster.pid() + " || true"), false);
                Conditions.await(Duration.ofSeconds(30), () -> server.stream().noneMatch(ProcessHandle::isAlive),
                    () -> "PostgreSQL's processes gone: " + server);
            }
        }
        try (MountCloneIT.MountProcess again = remount(s, s.ps().port())) {
            assertEquals("ready " + mp + " " + s.id() + " " + s.at(), again.ready, "the stale mount replaced");
            compute.start();
            try {
                assertEquals("10000", compute.psql("select count(*) from committed_before_kill"));
                assertEquals("", compute.psql("select v from committed_before_kill where id = 0"),
                    "nothing committed after the kill");
                assertEquals(committed, MountCloneIT.checksums(compute::psql), "pgbench's committed transactions");
                assertTrue(Files.readString(compute.log).contains("automatic recovery in progress"),
                    "crash recovery ran");
            } finally {
                compute.stop();
            }
        }
    }

    /**
     * mount --lsn below the tenant's retention horizon (a 2-second window moved past it):
     * exit status 1, the pageserver's error naming the horizon on standard error, no ready
     * line, nothing in the upper directory and nothing mounted.
     */
    @Test
    void aCloneBelowTheRetentionHorizonIsRefusedBeforeAnythingIsWritten() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(pg.dir().resolve("ps"), PinIT.SHORT_WINDOW)) {
            SystemId id = PinIT.followed(pg, ps);
            Lsn early = pg.flushLsn();
            ps.awaitDurable(early, Duration.ofSeconds(60));
            pg.pgbench("-c", "2", "-T", "5");
            Conditions.await(Duration.ofSeconds(30), () -> PinIT.horizon(ps).isAfter(early),
                () -> "the horizon past " + early);
            Path mp = pg.dir().resolve("clone");
            Path upper = pg.dir().resolve("upper");
            pg.run(List.of("mkdir", mp.toString()), true);
            Path out = pg.dir().resolve("mount.out");
            Path err = pg.dir().resolve("mount.err");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                MountCloneIT.JAR.toString(), "mount", "--port", String.valueOf(ps.port()), "--system-id", id.toString(),
                "--lsn", early.toString(), "--upper", upper.toString(), "--owner", "postgres", mp.toString())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("mount below the horizon did not end: " + Files.readString(err));
            }
            String message = Files.readString(err);
            assertEquals(1, p.exitValue(), message);
            assertEquals("", Files.readString(out), "no ready line");
            Matcher m = Pattern.compile("error: .*LSN " + early + " is below the retention horizon (\\S+) of tenant "
                + id).matcher(message);
            assertTrue(m.find(), message);
            Lsn horizon = Lsn.parse(m.group(1));
            assertTrue(horizon.isAfter(early) && !horizon.isAfter(PinIT.horizon(ps)), message);
            try (var files = Files.list(upper)) {
                assertEquals(List.of(), files.toList(), "nothing written to the upper directory");
            }
            assertFalse(CloneFileSystem.isMounted(mp), "nothing mounted");
            System.out.println("MountFaultsIT: below the horizon: " + message.trim());
        }
    }
}
