package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * {@code mount --standby}: a stock PostgreSQL 15 on a clone made at a past LSN starts as a hot
 * standby, streams the primary's WAL from the pageserver (from the redo pointer of the
 * primary's last checkpoint before the LSN) and follows the primary under pgbench: once it has
 * replayed the primary's flush LSN, every pgbench table is the primary's, and again after a
 * restart of the standby.
 */
class MountStandbyIT {
    @Test
    void aStandbyCloneFollowsThePrimaryUnderPgbench() throws Exception {
        try (PgCluster pg = PgCluster.builder().start()) {
            Path work = pg.dir();
            try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
                pg.pgbench("-i", "-s", "2", "-q");
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                pg.pgbench("-c", "2", "-t", "300");
                pg.psql("checkpoint");
                pg.pgbench("-c", "2", "-t", "300"); // the clone's LSN is well past that checkpoint's redo pointer
                Lsn at = pg.flushLsn();
                ps.awaitDurable(at, Duration.ofSeconds(60));

                Path mp = work.resolve("standby");
                pg.run(List.of("mkdir", mp.toString()), true);
                MountCloneIT.Compute standby = new MountCloneIT.Compute(pg, mp);
                try (MountCloneIT.MountProcess mount = new MountCloneIT.MountProcess(work, "--port",
                    String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn", at.toString(), "--upper",
                    work.resolve("upper").toString(), "--owner", "postgres", "--standby", mp.toString())) {
                    assertEquals("ready " + mp + " " + id + " " + at, mount.ready);
                    standby.start();
                    try {
                        assertEquals("t", standby.psql("select pg_is_in_recovery()"));
                        Exception refused = assertThrows(Exception.class,
                            () -> standby.psql("insert into pgbench_history values (1, 1, 1, 1, now(), null)"));
                        assertTrue(refused.getMessage().contains("read-only transaction"), refused.getMessage());

                        pg.pgbench("-c", "2", "-t", "1000");
                        assertEquals(MountCloneIT.checksums(pg::psql), followed(pg, standby), "after the load");
                        // a standby follows the primary's timeline: no timeline of its own, no history file
                        String timeline = pg.psql("select timeline_id from pg_control_checkpoint()");
                        assertEquals(timeline, standby.psql("select received_tli from pg_stat_wal_receiver"));
                        assertEquals(timeline, standby.psql("select timeline_id from pg_control_checkpoint()"));
                        assertEquals("0", standby.psql("select count(*) from pg_ls_waldir() where name like '%.history'"));

                        standby.stop();
                        pg.pgbench("-c", "2", "-t", "300");
                        standby.start();
                        assertEquals(MountCloneIT.checksums(pg::psql), followed(pg, standby), "after a restart");
                        standby.stop();
                    } catch (Exception | AssertionError e) {
                        System.out.println("MountStandbyIT: the standby's log:\n" + Files.readString(standby.log));
                        try {
                            standby.stopImmediate();
                        } catch (Exception notRunning) {
                            e.addSuppressed(notRunning);
                        }
                        throw e;
                    }
                }
                MountIT.Run writable = MountIT.cli("mount", "--port", String.valueOf(ps.port()), "--system-id",
                    id.toString(), "--latest", "--upper", work.resolve("upper").toString(), mp.toString());
                assertEquals(1, writable.status(), writable.err());
                assertTrue(writable.err().contains("is a standby clone; mount it with --standby"), writable.err());
                String log = Files.readString(standby.log);
                log.lines().filter(l -> l.contains("redo starts at") || l.contains("consistent recovery state")
                    || l.contains("started streaming") || l.contains("checksum"))
                    .forEach(l -> System.out.println("MountStandbyIT: " + l));
                assertTrue(log.contains("started streaming WAL from primary"), log);
                assertFalse(log.contains("PANIC"), log);
            }
        }
    }

    /** The standby's checksums once it has replayed everything the primary flushed. */
    static Map<String, String> followed(PgCluster pg, MountCloneIT.Compute standby) throws Exception {
        Lsn target = pg.flushLsn();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        Lsn replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
        while (replayed.isBefore(target) && System.nanoTime() < deadline) {
            replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
        }
        assertFalse(replayed.isBefore(target), "the standby replayed up to " + replayed + " only, not " + target);
        return MountCloneIT.checksums(standby::psql);
    }
}
