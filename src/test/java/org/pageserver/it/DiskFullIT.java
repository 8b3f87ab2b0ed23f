package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.metrics.PrometheusText;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.Tmpfs;
import org.slf4j.LoggerFactory;

/**
 * A disk that fills up under load. The pageserver's data directory is a 256 MB tmpfs; it
 * follows a primary under pgbench until a filler file takes every byte left. Then:
 * <ul>
 *   <li>ingest pauses with one error line ({@code disk full (<dir>): ingest paused at <lsn>,
 *       retrying every ...}), {@code pageserver_disk_full} 1, one episode counted, and
 *       {@code status} saying {@code disk full};</li>
 *   <li>the durable LSN stays at the paused LSN while the primary writes on, and the flush LSN
 *       its slot was told does not pass it; GetPage at that LSN is answered;</li>
 *   <li>once the filler is deleted, ingest resumes by itself and catches up with the primary
 *       (the load still running), the gauge back at 0, still one episode;</li>
 *   <li>after the load, every block of every permanent heap and btree relation equals the
 *       primary's.</li>
 * </ul>
 * Mounting needs root (CI runs the tests as root); elsewhere the test is skipped.
 */
class DiskFullIT {
    static final Pattern PAUSED = Pattern.compile(
        "^tenant (\\d+): disk full \\((\\S+)\\): ingest paused at (\\S+), retrying every 500ms: .*No space left on device$");
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path tmp;

    @Test
    void aFullDiskPausesIngestDamagesNothingAndIngestResumesByItselfWhenSpaceReturns() throws Exception {
        assumeTrue(Tmpfs.canMount(), "mounting a tmpfs needs root");
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(log);
        Process load = null;
        try (PgCluster pg = PgCluster.builder().set("max_wal_size", "'256MB'").start();
             Tmpfs disk = Tmpfs.mount(tmp.resolve("disk"), 256);
             TestPageServer ps = TestPageServer.start(disk.dir().resolve("ps"),
                 Map.of("pageserver.storage.disk-full-retry", "500ms"))) {
            pg.pgbench("-i", "-s", "2", "-q");
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
            load = CrashIT.startPgbench(pg);
            Process running = load;

            Path filler = disk.dir().resolve("filler");
            long filled = disk.fill(filler);
            List<String> lines = await(() -> pausedLines(log), l -> !l.isEmpty(), Duration.ofSeconds(120),
                "no disk-full line");
            Matcher m = PAUSED.matcher(lines.get(0));
            assertTrue(m.matches(), lines.get(0));
            assertEquals(id.toString(), m.group(1));
            assertEquals(ps.dataDir().resolve("tenants").resolve(id.toString()).toString(), m.group(2));
            Lsn paused = Lsn.parse(m.group(3));
            System.out.println("DiskFullIT: filler of " + (filled >> 20) + " MB, ingest paused at " + paused);
            assertEquals(1.0, metric(ps, id, "pageserver_disk_full"));
            assertEquals(1.0, metric(ps, id, "pageserver_disk_full_episodes_total"));
            String[] row = ps.statusRow();
            assertTrue(row[1].startsWith("disk full: ") && row[1].contains("ingest paused at " + paused), row[1]);

            // the primary writes on, the pageserver stores nothing more and acknowledges nothing more
            Lsn beyond = paused.plus(8 << 20);
            CrashIT.awaitPrimaryPast(pg, beyond, running, Duration.ofSeconds(120));
            assertEquals(paused, Lsn.parse(ps.statusRow()[4]), "the durable LSN stays where ingest paused");
            Lsn told = Lsn.parse(pg.psql("select restart_lsn from pg_replication_slots where slot_name like 'pageserver\\_%'"));
            assertTrue(!told.isAfter(paused), "the primary was told " + told + " was flushed, paused at " + paused);
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                byte[] page = c.getPage(RetentionIT.relation(pg, "pgbench_branches"), 0, paused, false);
                assertEquals(8192, page.length, "reads of what is stored go on");
            }

            Files.delete(filler);
            long freed = System.nanoTime();
            await(() -> metric(ps, id, "pageserver_disk_full"), v -> v == 0.0, Duration.ofSeconds(60),
                "ingest did not resume");
            long resumedMs = (System.nanoTime() - freed) / 1_000_000;
            Lsn primaryNow = pg.flushLsn();
            ps.awaitDurable(primaryNow, Duration.ofSeconds(120));
            System.out.println("DiskFullIT: resumed " + resumedMs + " ms after the filler was deleted; durable past the"
                + " primary's " + primaryNow + " (" + ((primaryNow.value() - paused.value()) >> 20) + " MB after the pause)"
                + " under load " + (System.nanoTime() - freed) / 1_000_000 + " ms after");
            assertEquals("streaming", ps.statusRow()[1]);
            assertEquals(1.0, metric(ps, id, "pageserver_disk_full_episodes_total"));
            assertEquals(1, pausedLines(log).size(), "one line for the episode: " + pausedLines(log));

            load.destroy();
            load.waitFor();
            load = null;
            PrimaryPages.assertAllRelationsEqual("DiskFullIT", pg, ps.url(), id,
                end -> ps.awaitDurable(end, Duration.ofSeconds(120)));
        } finally {
            if (load != null) {
                load.destroy();
                load.waitFor();
            }
            root.detachAppender(log);
        }
    }

    /**
     * A restart while the disk is full: the store does not open (RocksDB writes a new log and
     * manifest at every open), which is said once, and is opened again until it does; once the
     * filler is deleted the tenant is attached, streams, and catches up with the primary.
     */
    @Test
    void aTenantThatCannotOpenOnAFullDiskIsAttachedByItselfWhenSpaceReturns() throws Exception {
        assumeTrue(Tmpfs.canMount(), "mounting a tmpfs needs root");
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(log);
        Map<String, Object> config = Map.of("pageserver.storage.disk-full-retry", "500ms");
        try (PgCluster pg = PgCluster.builder().start(); Tmpfs disk = Tmpfs.mount(tmp.resolve("disk"), 256)) {
            pg.pgbench("-i", "-s", "1", "-q");
            Path dataDir = disk.dir().resolve("ps");
            Path filler = disk.dir().resolve("filler");
            SystemId id;
            int port;
            try (TestPageServer ps = TestPageServer.start(dataDir, config)) {
                id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
                port = ps.port();
                disk.fill(filler);
            }
            // what the close gave back (RocksDB trims its preallocated log) is taken again
            disk.fill(disk.dir().resolve("filler2"));
            try (TestPageServer ps = TestPageServer.start(dataDir, port, config)) {
                String tenantDir = ps.dataDir().resolve("tenants").resolve(id.toString()).toString();
                List<String> refused = await(() -> lines(log, "cannot re-attach tenant in " + tenantDir + ": disk full"),
                    l -> !l.isEmpty(), Duration.ofSeconds(60), "no re-attach line");
                assertTrue(refused.get(0).matches(Pattern.quote("cannot re-attach tenant in " + tenantDir
                    + ": disk full, retrying every 500ms: ") + ".*No space left on device"), refused.get(0));
                // WAL to catch up on once it is attached
                pg.pgbench("-c", "2", "-t", "200");
                Files.delete(filler);
                Files.delete(disk.dir().resolve("filler2"));
                Lsn end = pg.flushLsn();
                ps.awaitDurable(end, Duration.ofSeconds(60));
                assertEquals("streaming", ps.statusRow()[1]);
                assertEquals(1, lines(log, "cannot re-attach tenant in " + tenantDir).size(),
                    "one line, however many attempts: " + lines(log, "cannot re-attach"));
                System.out.println("DiskFullIT: re-attached after the disk was full at start, durable at " + end);
            }
        } finally {
            root.detachAppender(log);
        }
    }

    static List<String> lines(ListAppender<ILoggingEvent> log, String containing) {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : List.copyOf(log.list)) {
            if (e.getFormattedMessage().contains(containing)) {
                out.add(e.getFormattedMessage());
            }
        }
        return out;
    }

    static List<String> pausedLines(ListAppender<ILoggingEvent> log) {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : List.copyOf(log.list)) {
            if (e.getLevel() == Level.ERROR && e.getFormattedMessage().contains(": disk full (")) {
                out.add(e.getFormattedMessage());
            }
        }
        return out;
    }

    static double metric(TestPageServer ps, SystemId id, String name) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ps.httpPort()
            + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return PrometheusText.parse(r.body()).value(name, Map.of("system_id", id.toString()));
    }

    static <T> T await(Callable<T> probe, java.util.function.Predicate<T> done, Duration timeout, String what)
        throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T v = probe.call();
            if (done.test(v)) {
                return v;
            }
            assertTrue(System.nanoTime() < deadline, what + " in " + timeout + " (last: " + v + ")");
            Thread.sleep(100);
        }
    }
}
