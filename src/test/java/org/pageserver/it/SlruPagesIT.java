package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.SystemId;
import org.pageserver.redo.SlruRedo;

/**
 * The SLRUs served as pseudo-relations (SlruKind) equal the primary's own SLRU files, page
 * for page, after a workload of every kind of transaction end: commits and aborts, one
 * transaction with 40,000 subtransactions (a seventh of them rolled back) that crosses a CLOG
 * page and dozens of commit timestamp pages, two-phase commit and rollback, and thousands of
 * MultiXacts from three sessions share-locking the same rows, crossing offsets and members
 * pages. track_commit_timestamp is on. After CHECKPOINT the primary's files hold every page.
 */
class SlruPagesIT {
    @TempDir
    Path tmp;

    @Test
    void everySlruPageEqualsThePrimarysFile() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("track_commit_timestamp", "on")
                 .set("max_prepared_transactions", "5").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            long firstXid = Long.parseLong(pg.psql("select txid_current()"));
            pg.psqlScript("""
                create table t (id int primary key, v int);
                insert into t select g, 0 from generate_series(1, 3000) g;
                create table sub (id int);
                do $$
                begin
                  for i in 1..40000 loop
                    begin
                      insert into sub values (i);
                      if i % 7 = 0 then
                        raise exception 'roll back this one';
                      end if;
                    exception when raise_exception then
                      null;
                    end;
                  end loop;
                end $$;
                begin; insert into sub values (-1); rollback;
                begin; insert into sub values (-2); prepare transaction 'p1';
                begin; insert into sub values (-3); prepare transaction 'p2';
                commit prepared 'p1';
                rollback prepared 'p2';
                """);
            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                many.append(i % 3 == 0 ? "begin; update t set v = v + 1 where id = " + (i + 1) + "; rollback;\n"
                    : "update t set v = v + 1 where id = " + (i + 1) + ";\n");
            }
            pg.psqlScript(many.toString());
            multixacts(pg, 3000);
            long lastXid = Long.parseLong(pg.psql("select txid_current()"));
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));

            Map<String, Integer> compared = new TreeMap<>();
            List<String> mismatches = compareAll(pg, ps, id, end, compared);
            System.out.println("SLRU pages compared: " + compared + ", mismatches: " + mismatches.size() + ", xids "
                + firstXid + ".." + lastXid + " (" + (lastXid - firstXid + 1) + ")");
            assertTrue(mismatches.isEmpty(), mismatches.size() + " pages differ: "
                + mismatches.subList(0, Math.min(10, mismatches.size())));
            assertTrue(compared.getOrDefault("XACT", 0) >= 2, "two CLOG pages: " + compared);
            assertTrue(compared.getOrDefault("COMMIT_TS", 0) >= 40, "commit timestamp pages: " + compared);
            assertTrue(compared.getOrDefault("MULTIXACT_OFFSETS", 0) >= 2, "offsets pages: " + compared);
            assertTrue(compared.getOrDefault("MULTIXACT_MEMBERS", 0) >= 4, "members pages: " + compared);
        }
    }

    /**
     * Every page of every SLRU segment file of the primary against GetPage@LSN of its
     * pseudo-relation at {@code end}, and the pseudo-relations' sizes: the differences, and the
     * pages compared per SLRU into {@code compared}.
     */
    static List<String> compareAll(PgCluster pg, TestPageServer ps, SystemId id, Lsn end, Map<String, Integer> compared)
        throws Exception {
        List<String> mismatches = new ArrayList<>();
        try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
            for (SlruKind kind : SlruKind.values()) {
                Path dir = pg.dataDir().resolve(kind.dir);
                List<Path> segments;
                try (Stream<Path> s = Files.list(dir)) {
                    segments = s.sorted().toList();
                }
                int lastPage = -1;
                for (Path seg : segments) {
                    SlruKind.SegmentFile f = SlruKind.parseSegment(kind.dir + "/" + seg.getFileName());
                    byte[] file = Files.readAllBytes(seg);
                    for (int p = 0; p < file.length / 8192; p++) {
                        int pageno = f.firstPage() + p;
                        byte[] ours = client.getPage(kind.rel(), pageno, end, false);
                        byte[] theirs = java.util.Arrays.copyOfRange(file, p * 8192, (p + 1) * 8192);
                        int diff = java.util.Arrays.mismatch(ours, theirs);
                        if (diff >= 0) {
                            mismatches.add(kind + " page " + pageno + " differs from byte " + diff + " (ours "
                                + (ours[diff] & 0xFF) + ", primary " + (theirs[diff] & 0xFF) + ")");
                        }
                        compared.merge(kind.name(), 1, Integer::sum);
                        lastPage = Math.max(lastPage, pageno);
                    }
                }
                if (lastPage >= 0) {
                    assertEquals(lastPage + 1, client.nblocks(kind.rel(), end, false), kind + " pages");
                }
            }
        }
        return mismatches;
    }

    /**
     * The pageserver stopped in the middle of the workload while the primary goes on, commit
     * timestamps turned off and on again meanwhile (two primary restarts): once it is back, it
     * resumes from what it stored (base images, records, the commit_ts state and the last
     * checkpoint's next xid) and every SLRU page is the primary's again.
     */
    @Test
    void slruPagesAfterAPageserverRestart() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("track_commit_timestamp", "on")
                 .set("max_prepared_transactions", "5").start()) {
            Path data = tmp.resolve("ps");
            SystemId id;
            String burn = """
                do $$
                begin
                  for i in 1..3000 loop
                    begin
                      insert into sub values (i);
                      if i % 5 = 0 then
                        raise exception 'roll back this one';
                      end if;
                    exception when raise_exception then
                      null;
                    end;
                  end loop;
                end $$;
                begin; insert into sub values (-2); prepare transaction 'p1';
                commit prepared 'p1';
                """;
            try (TestPageServer ps = TestPageServer.start(data)) {
                id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                pg.psqlScript("""
                    create table t (id int primary key, v int);
                    insert into t select g, 0 from generate_series(1, 3000) g;
                    create table sub (id int);
                    """ + burn);
                multixacts(pg, 300);
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
            }
            // while the pageserver is down
            pg.psqlScript(burn);
            pg.psql("alter system set track_commit_timestamp = off");
            pg.stop();
            pg.start();
            pg.psqlScript(burn);
            pg.psql("alter system set track_commit_timestamp = on");
            pg.stop();
            pg.start();
            multixacts(pg, 300);
            try (TestPageServer ps = TestPageServer.start(data)) {
                pg.psqlScript(burn);
                pg.psql("checkpoint");
                Lsn end = pg.flushLsn();
                ps.awaitDurable(end, Duration.ofSeconds(60));
                Map<String, Integer> compared = new TreeMap<>();
                List<String> mismatches = compareAll(pg, ps, id, end, compared);
                System.out.println("SLRU pages compared after a pageserver restart: " + compared);
                assertTrue(mismatches.isEmpty(), mismatches.size() + " pages differ: "
                    + mismatches.subList(0, Math.min(10, mismatches.size())));
                assertTrue(compared.getOrDefault("COMMIT_TS", 0) >= 1, compared.toString());
            }
        }
    }

    /**
     * track_commit_timestamp turned off and on again by restarting the primary (XLOG_PARAMETER_CHANGE
     * both ways): DeactivateCommitTs deletes pg_commit_ts, ActivateCommitTs starts the page of
     * the next xid from zeros, so the commit timestamps of the first transactions, on that same
     * page, are gone from the primary's file and must be gone from the pageserver's page too.
     */
    @Test
    void commitTimestampsTurnedOffAndOnAgainStartFromZeros() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("track_commit_timestamp", "on").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            String twenty = "select txid_current();\n".repeat(20);
            long first = Long.parseLong(pg.psql("select txid_current()"));
            pg.psqlScript(twenty);
            // commits of transactions that wrote nothing else are not flushed at once (async)
            Lsn on = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psql("alter system set track_commit_timestamp = off");
            pg.stop();
            pg.start();
            pg.psqlScript(twenty);
            Lsn off = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psql("alter system set track_commit_timestamp = on");
            pg.stop();
            pg.start();
            // ActivateCommitTs has created the page of the next xid, zeros, and no commit came yet
            Lsn reactivated = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            byte[] fresh = Files.readAllBytes(pg.dataDir().resolve("pg_commit_ts/0000"));
            long again = Long.parseLong(pg.psql("select txid_current()"));
            pg.psqlScript(twenty);
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            int page = SlruRedo.commitTsPage((int) first);
            assertEquals(page, SlruRedo.commitTsPage((int) again), "the test needs the same commit_ts page");
            Path file = pg.dataDir().resolve(new SlruKind.SegmentFile(SlruKind.COMMIT_TS, 0).kind().dir)
                .resolve(String.format("%04X", page / SlruKind.SLRU_PAGES_PER_SEGMENT));
            byte[] theirs = java.util.Arrays.copyOfRange(Files.readAllBytes(file),
                page % SlruKind.SLRU_PAGES_PER_SEGMENT * 8192, (page % SlruKind.SLRU_PAGES_PER_SEGMENT + 1) * 8192);
            try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
                byte[] before = client.getPage(SlruKind.COMMIT_TS.rel(), page, on, false);
                int entry = (int) (first % SlruRedo.COMMIT_TS_XACTS_PER_PAGE) * 10;
                assertTrue(java.nio.ByteBuffer.wrap(before).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(entry) != 0,
                    "a timestamp while on: xid " + first + " (entry at " + entry + ") of page " + page + " as of " + on
                        + ", first non-zero byte at " + java.util.Arrays.mismatch(before, new byte[8192]) + ", "
                        + client.nblocks(SlruKind.COMMIT_TS.rel(), on, false) + " pages");
                assertTrue(!client.exists(SlruKind.COMMIT_TS.rel(), off, false), "no pg_commit_ts while off");
                assertEquals(fresh.length / 8192, client.nblocks(SlruKind.COMMIT_TS.rel(), reactivated, false),
                    "pg_commit_ts right after it is turned on again");
                assertArrayEquals(java.util.Arrays.copyOfRange(fresh, page * 8192, (page + 1) * 8192),
                    client.getPage(SlruKind.COMMIT_TS.rel(), page, reactivated, false));
                byte[] ours = client.getPage(SlruKind.COMMIT_TS.rel(), page, end, false);
                int diff = java.util.Arrays.mismatch(ours, theirs);
                assertEquals(-1, diff, "commit_ts page " + page + " differs from byte " + diff);
                for (SlruKind kind : new SlruKind[] {SlruKind.XACT, SlruKind.COMMIT_TS}) {
                    assertEquals(pagesOnDisk(pg, kind), client.nblocks(kind.rel(), end, false), kind + " pages");
                }
            }
        }
    }

    /**
     * Commits under a replication origin (as a logical replication apply worker makes them):
     * commit_ts entries carry the origin's id, and the origin's commit time when the session set
     * one. When it did not (pg_replication_origin_session_setup without xact_setup), the commit
     * record carries an origin timestamp of 0 while the primary stores the commit's own time
     * (RecordTransactionCommit): the page must still be the primary's.
     */
    @Test
    void commitsUnderAReplicationOriginKeepTheirOriginAndTime() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("track_commit_timestamp", "on")
                 .set("max_prepared_transactions", "5").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psqlScript("""
                create table o (id int);
                select pg_replication_origin_create('upstream');
                """);
            // a new session: its first commit under the origin has no origin timestamp yet
            // (replorigin_session_origin_timestamp is only set by a commit of the session)
            pg.psqlScript("""
                select pg_replication_origin_session_setup('upstream');
                insert into o values (1);
                insert into o values (2);
                begin;
                select pg_replication_origin_xact_setup('0/1234', '2020-02-02 12:00:00+00');
                insert into o values (3);
                commit;
                begin; insert into o values (4); savepoint a; insert into o values (5); prepare transaction 'p';
                commit prepared 'p';
                select pg_replication_origin_session_reset();
                insert into o values (6);
                """);
            String origins = pg.psql("select count(*) from o, pg_xact_commit_timestamp_origin(o.xmin) c "
                + "where c.roident <> 0");
            assertEquals("5", origins, "rows written under the origin");
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
                int pages = pagesOnDisk(pg, SlruKind.COMMIT_TS);
                assertEquals(pages, client.nblocks(SlruKind.COMMIT_TS.rel(), end, false));
                for (int page = 0; page < pages; page++) {
                    Path file = pg.dataDir().resolve(SlruKind.COMMIT_TS.dir)
                        .resolve(String.format("%04X", page / SlruKind.SLRU_PAGES_PER_SEGMENT));
                    int inFile = page % SlruKind.SLRU_PAGES_PER_SEGMENT;
                    byte[] bytes = Files.readAllBytes(file);
                    if (bytes.length < (inFile + 1) * 8192) {
                        continue;
                    }
                    byte[] theirs = java.util.Arrays.copyOfRange(bytes, inFile * 8192, (inFile + 1) * 8192);
                    byte[] ours = client.getPage(SlruKind.COMMIT_TS.rel(), page, end, false);
                    int diff = java.util.Arrays.mismatch(ours, theirs);
                    assertEquals(-1, diff, "commit_ts page " + page + " differs from byte " + diff);
                }
            }
        }
    }

    /** Highest page + 1 of an SLRU's segment files on the primary. */
    static int pagesOnDisk(PgCluster pg, SlruKind kind) throws Exception {
        int pages = 0;
        try (Stream<Path> s = Files.list(pg.dataDir().resolve(kind.dir))) {
            for (Path seg : s.toList()) {
                SlruKind.SegmentFile f = SlruKind.parseSegment(kind.dir + "/" + seg.getFileName());
                pages = Math.max(pages, f.firstPage() + (int) (Files.size(seg) / 8192));
            }
        }
        return pages;
    }

    /**
     * Three sessions share-lock the same row, so the second and third lock create MultiXacts
     * (of two, then three members); a quarter of the rounds end in rollback.
     */
    static void multixacts(PgCluster pg, int rounds) throws Exception {
        Connection[] cs = {pg.connect(), pg.connect(), pg.connect()};
        try {
            Statement[] st = new Statement[3];
            for (int i = 0; i < 3; i++) {
                cs[i].setAutoCommit(false);
                st[i] = cs[i].createStatement();
            }
            for (int r = 0; r < rounds; r++) {
                int row = 1 + r % 3000;
                for (int i = 0; i < 3; i++) {
                    String lock = i == 1 ? "for key share" : "for share";
                    st[i].executeQuery("select v from t where id = " + row + " " + lock).close();
                }
                for (int i = 0; i < 3; i++) {
                    if (r % 4 == 3) {
                        cs[i].rollback();
                    } else {
                        cs[i].commit();
                    }
                }
            }
        } finally {
            for (Connection c : cs) {
                c.close();
            }
        }
    }
}
