package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * A stock PostgreSQL 15 standby (the primary's pg_basebackup, primary_conninfo pointing at the
 * pageserver through a {@link WalCaptureProxy}) following the primary through the pageserver
 * under pgbench -c 4 for 60 s, close behind it: it replays everything without a complaint about
 * the WAL, and what it was sent is the primary's WAL, in messages that end only where the
 * standby may flush and read a page up to: a WAL page boundary or the end of the WAL stored (a
 * record boundary). Messages of 128 kB cut inside a page made it log "incorrect resource
 * manager data checksum" 1 to 3 times a run (see WalSender.pieceEnd).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StandbyUnderLoadIT {
    static final int SEG = 16 << 20;
    static final String ACCOUNTS = "select md5(string_agg(a::text, ',' order by aid)) from pgbench_accounts a";
    static final String COMPLAINT = "incorrect resource manager data checksum";

    PgCluster pg;
    TestPageServer ps;
    WalCaptureProxy proxy;
    PgCluster standby;
    String standbyLog;
    String standbyAccounts;
    String primaryAccounts;

    @BeforeAll
    void followThePrimaryUnderLoad() throws Exception {
        // the primary keeps every segment the messages are compared with
        pg = PgCluster.builder().set("wal_keep_size", "'8GB'").start();
        Path work = pg.dir();
        pg.pgbench("-i", "-s", "1", "-q");
        ps = TestPageServer.start(work.resolve("ps"));
        SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        Path capture = work.resolve("capture");
        Files.createDirectories(capture);
        proxy = new WalCaptureProxy(ps.port(), capture);

        Path backup = work.resolve("backup");
        pg.run(List.of("mkdir", backup.toString()), true);
        pg.run(List.of(PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(pg.port()), "-U", "postgres", "-X", "fetch", "-F", "t", "-D", backup.toString()), true);
        standby = PgCluster.fromTar(backup.resolve("base.tar"));
        Files.writeString(standby.dataDir().resolve("postgresql.conf"), "primary_conninfo = 'host=127.0.0.1 port="
            + proxy.port() + " user=postgres sslmode=disable gssencmode=disable options=''-c system_id=" + id
            + "'''\nhot_standby_feedback = on\n", StandardOpenOption.APPEND);
        pg.run(List.of("touch", standby.dataDir().resolve("standby.signal").toString()), true);
        standby.start();

        pg.pgbench("-n", "-c", "4", "-T", "60");
        Lsn target = pg.flushLsn();
        primaryAccounts = pg.psql(ACCOUNTS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        Lsn replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
        while (replayed.isBefore(target) && System.nanoTime() < deadline) {
            replayed = Lsn.parse(standby.psql("select pg_last_wal_replay_lsn()"));
        }
        assertFalse(replayed.isBefore(target), "the standby replayed up to " + replayed + " only, not " + target);
        standbyAccounts = standby.psql(ACCOUNTS);
        standbyLog = Files.readString(standby.logFile());
    }

    @AfterAll
    void stop() throws Exception {
        if (standby != null) {
            standby.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (ps != null) {
            ps.close();
        }
        pg.close();
    }

    @Test
    void theStandbyReplaysEverythingWithoutAComplaintAboutTheWal() {
        List<String> complaints = standbyLog.lines().filter(l -> l.contains(COMPLAINT)).toList();
        assertEquals(List.of(), complaints, "the standby's log:\n" + standbyLog);
        assertTrue(standbyLog.contains("started streaming WAL from primary"), standbyLog);
        assertEquals(primaryAccounts, standbyAccounts);
    }

    @Test
    void everyXLogDataMessageCarriesThePrimarysWal() throws Exception {
        List<String> differing = new ArrayList<>();
        long bytes = 0;
        for (WalCaptureProxy.Sent m : messages()) {
            byte[] mine = proxy.read(m.connection(), m.dataStart(), m.length());
            byte[] primary = pg.walBytes(new Lsn(m.dataStart()), new Lsn(m.dataEnd()), SEG);
            if (!Arrays.equals(primary, mine)) {
                differing.add(new Lsn(m.dataStart()) + " (first differing byte at "
                    + new Lsn(m.dataStart() + Arrays.mismatch(primary, mine)) + ")");
            }
            bytes += m.length();
        }
        assertTrue(bytes > 16 << 20, "only " + bytes + " bytes sent");
        assertEquals(List.of(), differing);
    }

    @Test
    void everyXLogDataMessageEndsAtAPageBoundaryOrAtTheEndOfTheWalStored() {
        List<String> inside = new ArrayList<>();
        for (WalCaptureProxy.Sent m : messages()) {
            if (m.dataEnd() % 8192 != 0 && m.dataEnd() != m.walEnd()) {
                inside.add(new Lsn(m.dataStart()) + ".." + new Lsn(m.dataEnd()) + " (walEnd " + new Lsn(m.walEnd()) + ")");
            }
        }
        assertFalse(messages().isEmpty());
        assertEquals(List.of(), inside, "messages ending inside a page, short of the WAL stored");
    }

    List<WalCaptureProxy.Sent> messages() {
        synchronized (proxy.sent) {
            return List.copyOf(proxy.sent);
        }
    }
}
