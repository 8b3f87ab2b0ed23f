package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The pageserver failing under a running clone, end to end (the mount command, a stock
 * PostgreSQL on it): a query that needs pages while the pageserver restarts waits for it and
 * answers as of the clone's LSN; with the pageserver gone for good, it fails with an I/O error,
 * never with wrong or zeroed data. MountIT has the same at the filesystem level.
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
        Path mp = s.pg().dir().resolve("clone");
        s.pg().run(List.of("mkdir", "-p", mp.toString()), true);
        return new MountCloneIT.MountProcess(s.pg().dir(), "--port", String.valueOf(port), "--system-id",
            s.id().toString(), "--lsn", s.at().toString(), "--upper", s.pg().dir().resolve("upper").toString(), "--owner",
            "postgres", mp.toString());
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
}
