package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.slf4j.LoggerFactory;

/**
 * Nothing is lost when the replication connection goes away under pgbench -c 4: a pageserver
 * follows a real primary through a {@link WalCutProxy}, which cuts the connection at chosen
 * LSNs of records made on purpose (pg_logical_emit_message padded to land where wanted, found
 * again with pg_waldump): inside a record that crosses a segment boundary (before the boundary,
 * at it, inside the next segment's long page header, past it) and around a record ending
 * exactly on a page boundary (short of its end, at its end, past the next page's header). The
 * pageserver reconnects by itself from its durable LSN each time; after a primary restart
 * (fast, and immediate: a crash) too. Each test ends with the load stopped, the pageserver
 * caught up with the primary's flush LSN, and every block of every pgbench relation equal to
 * the primary's; each cut is checked to have happened at its LSN, with the pageserver having
 * received exactly the WAL up to it (its "WAL stream lost at" log line).
 */
class ReplicationCutsIT {
    static final int SEG = 16 << 20;
    static final int PAGE = 8192;
    /** XLogRecord, XLR_BLOCK_ID_DATA_LONG and its length, xl_logical_message, prefix "p\0". */
    static final int MESSAGE_OVERHEAD = 24 + 5 + 24 + 2;
    static final Pattern MESSAGE_LSN = Pattern.compile("rmgr: LogicalMessage .* lsn: (\\S+),");

    @TempDir
    Path tmp;

    @Test
    void cutsInsideARecordCrossingASegmentBoundaryLoseNothing() throws Exception {
        try (Following f = Following.start(tmp)) {
            Lsn held = f.hold();
            long[] record = f.recordCrossingASegmentBoundary();
            long boundary = record[1] - record[1] % SEG;
            System.out.println("ReplicationCutsIT: record " + new Lsn(record[0]) + ".." + new Lsn(record[1])
                + " crosses the segment boundary " + new Lsn(boundary) + " (held at " + held + ")");
            f.cutAndCompare(List.of(new Lsn((record[0] + boundary) / 2), new Lsn(boundary), new Lsn(boundary + 20),
                new Lsn(boundary + 1000)));
        }
    }

    @Test
    void cutsAroundARecordEndingExactlyOnAPageBoundaryLoseNothing() throws Exception {
        try (Following f = Following.start(tmp)) {
            Lsn held = f.hold();
            Lsn end = f.recordEndingOnAPageBoundary();
            System.out.println("ReplicationCutsIT: a record ends at the page boundary " + end + " (held at " + held
                + ")");
            f.cutAndCompare(List.of(end.plus(-8), end, end.plus(24)));
        }
    }

    /**
     * A fast shutdown ends the stream once everything sent was confirmed flushed (WalSndDone,
     * with CommandComplete): the pageserver had received the shutdown checkpoint.
     */
    @Test
    void aFastPrimaryRestartLosesNothing() throws Exception {
        try (Following f = Following.start(tmp)) {
            f.loadFor(1 << 20);
            f.pg.restart("fast");
            Matcher lost = Pattern.compile("WAL stream lost at (\\S+): .*ended the WAL stream \\(shutdown\\)")
                .matcher(f.awaitLog("ended the WAL stream (shutdown)"));
            assertTrue(lost.find(), lost.toString());
            Matcher checkpoint = Pattern.compile("Latest checkpoint location:\\s+(\\S+)").matcher(f.pg.pgControlData());
            assertTrue(checkpoint.find());
            assertTrue(Lsn.parse(lost.group(1)).isAfter(Lsn.parse(checkpoint.group(1))), "the stream ended at "
                + lost.group(1) + ", the shutdown checkpoint is at " + checkpoint.group(1));
            f.restartLoadAndCompare("primary restart -m fast");
        }
    }

    /** An immediate shutdown (a crash) drops the connection; the primary replays its WAL. */
    @Test
    void anImmediatePrimaryRestartLosesNothing() throws Exception {
        try (Following f = Following.start(tmp)) {
            f.loadFor(1 << 20);
            int before = f.logged();
            f.pg.restart("immediate");
            f.awaitLog("reconnecting: WAL stream lost at ", before);
            f.restartLoadAndCompare("primary restart -m immediate");
        }
    }

    /** The comparison sees what the pageserver has not been sent: it can fail. */
    @Test
    void pagesAsOfAnEarlierLsnDifferFromThePrimarys() throws Exception {
        try (Following f = Following.start(tmp)) {
            // past pgbench's start, which truncates pgbench_history (a new relfilenode)
            f.loadFor(256 << 10);
            Lsn before = f.pg.flushLsn();
            f.ps.awaitDurable(before, Duration.ofSeconds(60));
            f.loadFor(256 << 10);
            f.load.destroy();
            f.load.waitFor();
            PrimaryPages.quiesce(f.pg);
            f.pg.psql("checkpoint");
            f.ps.awaitDurable(f.pg.flushLsn(), Duration.ofSeconds(60));
            List<String> diffs = new ArrayList<>();
            PrimaryPages.compareAllRelations(f.pg, f.ps.url(), f.id, before, diffs);
            System.out.println("ReplicationCutsIT: as of " + before + ", 256 kB of pgbench WAL earlier, " + diffs.size()
                + " blocks or sizes differ from the primary's");
            assertFalse(diffs.isEmpty());
        }
    }

    /** A primary under pgbench -c 4, a pageserver following it through a cutting proxy. */
    static final class Following implements AutoCloseable {
        final PgCluster pg;
        final WalCutProxy proxy;
        final TestPageServer ps;
        final SystemId id;
        final ListAppender<ILoggingEvent> log = new ListAppender<>();
        Process load;

        private Following(PgCluster pg, WalCutProxy proxy, TestPageServer ps, SystemId id) {
            this.pg = pg;
            this.proxy = proxy;
            this.ps = ps;
            this.id = id;
        }

        static Following start(Path tmp) throws Exception {
            PgCluster pg = PgCluster.builder().start();
            WalCutProxy proxy = null;
            TestPageServer ps = null;
            try {
                pg.pgbench("-i", "-s", "1", "-q");
                proxy = new WalCutProxy(pg.port());
                ps = TestPageServer.start(tmp.resolve("ps"));
                SystemId id = SystemId.parse(ps.psql("callmemaybe host=127.0.0.1 port=" + proxy.port()
                    + " user=postgres dbname=postgres"));
                Following f = new Following(pg, proxy, ps, id);
                f.log.start();
                root().addAppender(f.log);
                f.load = CrashIT.startPgbench(pg);
                return f;
            } catch (Exception | AssertionError e) {
                if (ps != null) {
                    ps.close();
                }
                if (proxy != null) {
                    proxy.close();
                }
                pg.close();
                throw e;
            }
        }

        private static Logger root() {
            return (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        }

        /**
         * Holds the WAL sent to the pageserver at the primary's insert position (or where the
         * stream already is, if it got past it meanwhile), once it got there.
         */
        Lsn hold() throws Exception {
            Lsn at = proxy.hold(Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()")));
            proxy.awaitHeld(Duration.ofSeconds(60));
            return at;
        }

        /**
         * A logical message that starts in one segment and ends in the next: sized from the
         * insert position, read in the same statement, to reach 4 kB past the next segment
         * boundary (up to a segment of WAL, so that records the load slips in between only move
         * it); the LSNs of its start, as pg_waldump finds it, and end.
         */
        long[] recordCrossingASegmentBoundary() throws Exception {
            for (int attempt = 0; attempt < 5; attempt++) {
                String[] r = pg.psql("select p, pg_logical_emit_message(false, 'p', repeat('x', (" + SEG + " - p % "
                    + SEG + " + 4096)::int)) from (select pg_current_wal_insert_lsn() - '0/0'::pg_lsn as p) t")
                    .split("\\|");
                long from = Long.parseLong(r[0]);
                long boundary = from - from % SEG + SEG;
                Lsn end = Lsn.parse(r[1]);
                awaitFlushed(end);
                Matcher m = MESSAGE_LSN.matcher(pg.pgWaldump("-r", "LogicalMessage", "-s", new Lsn(from).toString(),
                    "-e", end.toString()));
                assertTrue(m.find(), "pg_waldump found no logical message in " + new Lsn(from) + ".." + end);
                long start = Lsn.parse(m.group(1)).value();
                if (start < boundary && end.value() > boundary) {
                    return new long[] {start, end.value()};
                }
            }
            throw new AssertionError("no record crossing a segment boundary in 5 attempts");
        }

        /**
         * A logical message sized from the insert position, read in the same statement, to end at
         * the next page boundary (the one after if the rest of this page is too small for it);
         * its end. The load may slip a record in between: then again.
         */
        Lsn recordEndingOnAPageBoundary() throws Exception {
            String offset = "(p % " + PAGE + ")";
            String nextHeader = "(case when (p - " + offset + " + " + PAGE + ") % " + SEG + " = 0 then 40 else 24 end)";
            String room = "(case when " + offset + " = 0 then " + PAGE + " - (case when p % " + SEG
                + " = 0 then 40 else 24 end) else " + PAGE + " - " + offset + " end)";
            String size = "(case when " + room + " >= " + (MESSAGE_OVERHEAD + 256) + " then " + room + " - "
                + MESSAGE_OVERHEAD + " else " + room + " + " + PAGE + " - " + nextHeader + " - " + MESSAGE_OVERHEAD
                + " end)::int";
            for (int attempt = 0; attempt < 20; attempt++) {
                Lsn end = Lsn.parse(pg.psql("select pg_logical_emit_message(false, 'p', repeat('x', " + size
                    + ")) from (select pg_current_wal_insert_lsn() - '0/0'::pg_lsn as p) t"));
                if (end.value() % PAGE == 0) {
                    awaitFlushed(end);
                    return end;
                }
            }
            throw new AssertionError("no record ending on a page boundary in 20 attempts");
        }

        private void awaitFlushed(Lsn lsn) throws Exception {
            CrashIT.awaitPrimaryPast(pg, lsn, load, Duration.ofSeconds(60));
        }

        /** pgbench writes {@code bytes} of WAL more. */
        void loadFor(long bytes) throws Exception {
            CrashIT.awaitPrimaryPast(pg, pg.flushLsn().plus(bytes), load, Duration.ofSeconds(60));
        }

        /**
         * Releases the held WAL with the connection cut at {@code cuts}; once the pageserver is
         * past the last one and some load more was written, checks the cuts and compares.
         */
        void cutAndCompare(List<Lsn> cuts) throws Exception {
            proxy.release(cuts);
            Lsn last = cuts.get(cuts.size() - 1);
            ps.awaitDurable(last, Duration.ofSeconds(60));
            loadFor(512 << 10);
            assertEquals(List.of(), proxy.missed());
            assertEquals(cuts, proxy.cuts().stream().map(WalCutProxy.Cut::lsn).toList());
            for (WalCutProxy.Cut c : proxy.cuts()) {
                System.out.println("ReplicationCutsIT: connection " + c.connection() + " sent WAL " + c.from() + ".."
                    + c.lsn() + " and was cut");
                assertTrue(!c.from().isAfter(c.lsn()), c.toString());
                awaitLog("reconnecting: WAL stream lost at " + c.lsn() + ":");
            }
            int compared = stopLoadAndCompare(cuts.size() + " cuts at " + cuts);
            assertTrue(compared > 1000, compared + " blocks compared");
        }

        /** How many lines the pageserver logged so far. */
        int logged() {
            synchronized (log) {
                return log.list.size();
            }
        }

        String awaitLog(String text) throws Exception {
            return awaitLog(text, 0);
        }

        /**
         * The first line the pageserver logged about this tenant containing {@code text}, after
         * its first {@code from} lines, waiting for it.
         */
        String awaitLog(String text, int from) throws Exception {
            String tenant = "tenant " + id + " ";
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (true) {
                synchronized (log) {
                    var line = log.list.stream().skip(from).map(ILoggingEvent::getFormattedMessage)
                        .filter(l -> l.startsWith(tenant) && l.contains(text)).findFirst();
                    if (line.isPresent()) {
                        return line.get();
                    }
                }
                assertTrue(System.nanoTime() < deadline, "the pageserver logged no \"" + tenant + "... " + text + "\"");
                Thread.sleep(20);
            }
        }

        /** After a primary restart (which ended pgbench): pgbench again for 1 MB of WAL, then compares. */
        void restartLoadAndCompare(String what) throws Exception {
            load.waitFor();
            load = CrashIT.startPgbench(pg);
            loadFor(1 << 20);
            int compared = stopLoadAndCompare(what);
            assertTrue(compared > 1000, compared + " blocks compared");
        }

        /** Stops the load; once the pageserver is at the primary's flush LSN, compares every block. */
        int stopLoadAndCompare(String what) throws Exception {
            load.destroy();
            load.waitFor();
            PrimaryPages.quiesce(pg);
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            List<String> diffs = new ArrayList<>();
            int compared = PrimaryPages.compareAllRelations(pg, ps.url(), id, end, diffs);
            System.out.println("ReplicationCutsIT: " + what + ": at " + end + " " + compared + " blocks compared, "
                + diffs.size() + " differ");
            assertEquals(List.of(), diffs.subList(0, Math.min(20, diffs.size())));
            return compared;
        }

        @Override
        public void close() throws Exception {
            root().detachAppender(log);
            if (load != null) {
                load.destroy();
                load.waitFor();
            }
            ps.close();
            proxy.close();
            pg.close();
        }
    }
}
