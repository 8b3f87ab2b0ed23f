package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * {@code pin <system_id> <lsn>}: the retention horizon stops at a pinned LSN for as long as the
 * connection that pinned it stays open (what a mounted clone holds), and moves on once it
 * closes; an LSN the horizon has passed cannot be pinned.
 */
class PinIT {
    @TempDir
    Path tmp;

    static final Map<String, Object> SHORT_WINDOW = Map.of("pageserver.retention.window", "2s",
        "pageserver.compaction.interval", "1s");

    /** A pgbench database on the primary, and the pageserver following it. */
    static SystemId followed(PgCluster pg, TestPageServer ps) throws Exception {
        pg.pgbench("-i", "-s", "1", "-q");
        return SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
    }

    static Lsn horizon(TestPageServer ps) throws Exception {
        return Lsn.parse(ps.statusRow()[RetentionIT.STATUS_HORIZON]);
    }

    @Test
    void aPinHoldsTheHorizonUntilItsConnectionCloses() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"), SHORT_WINDOW)) {
            SystemId id = followed(pg, ps);
            Lsn pinned = pg.flushLsn();
            ps.awaitDurable(pinned, Duration.ofSeconds(60));
            try (Connection c = DriverManager.getConnection(ps.url(), MountIT.connection());
                 Statement s = c.createStatement()) {
                s.execute("pin " + id + " " + pinned);
                // WAL written for longer than the window: without the pin the horizon would pass
                pg.pgbench("-c", "2", "-T", "5");
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                Conditions.await(Duration.ofSeconds(30), () -> horizon(ps).equals(pinned),
                    () -> "horizon at the pin " + pinned);
                // more WAL and passes of compaction: the horizon stays
                pg.pgbench("-c", "2", "-T", "3");
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                assertEquals(pinned, horizon(ps), "still at the pin while its connection is open");
            }
            Conditions.await(Duration.ofSeconds(30), () -> horizon(ps).isAfter(pinned),
                () -> "the horizon moved past " + pinned + " once the pin's connection closed");
        }
    }

    @Test
    void aMountedCloneHoldsItsLsnUntilItIsUnmounted() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"), SHORT_WINDOW)) {
            SystemId id = followed(pg, ps);
            Lsn at = pg.flushLsn();
            ps.awaitDurable(at, Duration.ofSeconds(60));
            Path mp = pg.dir().resolve("clone");
            pg.run(java.util.List.of("mkdir", "-p", mp.toString()), true);
            try (MountCloneIT.MountProcess mount = new MountCloneIT.MountProcess(pg.dir(), "--port",
                String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn", at.toString(), "--upper",
                pg.dir().resolve("upper").toString(), "--owner", "postgres", mp.toString())) {
                pg.pgbench("-c", "2", "-T", "5");
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                Conditions.await(Duration.ofSeconds(30), () -> horizon(ps).equals(at), () -> "horizon at the clone's " + at);
            }
            Conditions.await(Duration.ofSeconds(30), () -> horizon(ps).isAfter(at),
                () -> "the horizon moved past " + at + " once the clone was unmounted");
        }
    }

    @Test
    void anLsnBelowTheHorizonCannotBePinned() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"), SHORT_WINDOW)) {
            SystemId id = followed(pg, ps);
            Lsn early = pg.flushLsn();
            ps.awaitDurable(early, Duration.ofSeconds(60));
            pg.pgbench("-c", "2", "-T", "5");
            Conditions.await(Duration.ofSeconds(30), () -> horizon(ps).isAfter(early), () -> "the horizon past " + early);
            try (Connection c = DriverManager.getConnection(ps.url(), MountIT.connection());
                 Statement s = c.createStatement()) {
                SQLException e = assertThrows(SQLException.class, () -> s.execute("pin " + id + " " + early));
                assertEquals("22023", e.getSQLState());
                assertTrue(e.getMessage().contains("LSN " + early + " is below the retention horizon "), e.getMessage());
            }
        }
    }
}
