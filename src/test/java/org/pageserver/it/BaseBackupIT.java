package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.pageserver.backup.BaseBackup;
import org.pageserver.backup.BaseBackupException;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.page.PageChecksum;
import org.pageserver.storage.TenantMeta;
import org.pageserver.redo.PageChange;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/**
 * Base backups at any LSN, started as a stock PostgreSQL 15 with nothing to replay. One primary
 * (data checksums on, so every page written must carry a right checksum) is followed by a
 * pageserver while pgbench runs; at three moments the pgbench tables are locked against
 * writers, the flush LSN and a checksum of every table recorded. Then the pageserver stops and
 * the engine runs on its store directly: each backup, untarred and started, must give the
 * recorded checksums, start without redo and pass pg_amcheck.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BaseBackupIT {
    static final List<String> TABLES = List.of(
        "select md5(string_agg(t::text, ',' order by aid)) from pgbench_accounts t",
        "select md5(string_agg(t::text, ',' order by bid)) from pgbench_branches t",
        "select md5(string_agg(t::text, ',' order by tid)) from pgbench_tellers t",
        "select md5(string_agg(t::text, ',' order by tid, bid, aid, delta, mtime)) from pgbench_history t");

    static final String IN_TS = "select md5(string_agg(t::text, ',' order by id)) from in_ts t";

    /** A moment of the workload: the flush LSN and the checksums of the tables then. */
    record Moment(Lsn lsn, List<String> checksums) {
    }

    PgCluster pg;
    Path work;
    TenantStore store;
    SystemId id;
    TenantMeta meta;
    final List<Moment> moments = new ArrayList<>();
    /** The checksum of the table in tablespace ts1 (written before the moments, never changed). */
    String inTablespace;
    /** The sequence's last value at the third moment, when the prepared transaction is open. */
    long seqAtThird;
    /**
     * While the table "doomed" exists (it is dropped later): a page of it is given a record the
     * WAL decoder refuses, so that a backup at this LSN meets a page it cannot rebuild.
     */
    Lsn withDoomed;
    /** The doomed table's main fork. */
    RelTag doomed;
    /** The end: the prepared transaction committed, everything checkpointed. */
    Lsn end;
    Moment last;
    /** pg_dumpall of the primary at the end. */
    List<String> dumpAtEnd;
    /** What the pageserver's {@code controlfile} answered for the third moment, psql -At. */
    String controlfileAtThird;
    /** The SQLSTATEs of bad controlfile requests, by request. */
    Map<String, String> controlfileErrors;
    Lsn afterImport;

    @BeforeAll
    void followAPrimaryUnderPgbench() throws Exception {
        work = Files.createTempDirectory("basebackupit-");
        pg = PgCluster.builder().initdb("--data-checksums").set("max_prepared_transactions", "5").start();
        pg.pgbench("-i", "-s", "1", "-q");
        try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
            id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            afterImport = pg.flushLsn();
            pg.psqlScript("""
                create unlogged table ul (id int primary key, v text);
                insert into ul select g, 'u' from generate_series(1, 1000) g;
                create sequence seq;
                select nextval('seq') from generate_series(1, 100);
                create table mx (id int primary key, v int);
                insert into mx select g, 0 from generate_series(1, 10) g;
                """);
            Path tablespace = pg.dir().resolve("ts1");
            pg.run(List.of("mkdir", tablespace.toString()), true);
            pg.psqlScript("create tablespace ts1 location '" + tablespace + "';\n"
                + "create table in_ts (id int primary key, v text) tablespace ts1;\n"
                + "insert into in_ts select g, md5(g::text) from generate_series(1, 2000) g;\n");
            inTablespace = pg.psql(IN_TS);
            shareLockFromTwoSessions();
            pg.psqlScript("begin; insert into mx values (100, 1); prepare transaction 'open_at_third';");
            CompletableFuture<String> bench = CompletableFuture.supplyAsync(() -> {
                try {
                    return pg.pgbench("-n", "-c", "4", "-j", "2", "-t", "400");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            for (int rows : new int[] {200, 600, 1000}) {
                awaitHistoryRows(rows);
                moments.add(moment());
            }
            seqAtThird = Long.parseLong(pg.psql("select last_value from seq"));
            bench.get();
            pg.psqlScript("""
                create table doomed (id int);
                insert into doomed select generate_series(1, 3000);
                """);
            withDoomed = pg.flushLsn();
            doomed = new RelTag(RelTag.DEFAULTTABLESPACE_OID, Integer.parseInt(pg.psql(
                "select oid from pg_database where datname = current_database()")),
                Integer.parseInt(pg.psql("select pg_relation_filenode('doomed')")), ForkNumber.MAIN);
            pg.psqlScript("""
                drop table doomed;
                commit prepared 'open_at_third';
                checkpoint;
                """);
            last = moment();
            end = last.lsn();
            dumpAtEnd = dumpall(pg);
            ps.awaitDurable(end, Duration.ofSeconds(120));
            controlfileAtThird = ps.psql("controlfile " + id + " " + moments.get(2).lsn());
            controlfileErrors = controlfileErrors(ps);
        }
        store = TenantStore.open(work.resolve("ps").resolve("tenants").resolve(id.toString()), false);
        meta = store.meta().orElseThrow();
    }

    @AfterAll
    void close() throws IOException {
        if (store != null) {
            store.close();
        }
        if (pg != null) {
            pg.close();
        }
        try (var s = Files.walk(work)) {
            s.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(java.io.File::delete);
        }
    }

    /** Two sessions share-lock the same rows: the primary creates multixacts. */
    void shareLockFromTwoSessions() throws Exception {
        try (Connection a = pg.connect(); Connection b = pg.connect()) {
            a.setAutoCommit(false);
            b.setAutoCommit(false);
            try (Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
                sa.executeQuery("select * from mx for share").close();
                sb.executeQuery("select * from mx for share").close();
            }
            a.commit();
            b.commit();
        }
    }

    void awaitHistoryRows(int rows) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        while (Integer.parseInt(pg.psql("select count(*) from pgbench_history")) < rows) {
            assertTrue(System.nanoTime() < deadline, "pgbench did not reach " + rows + " transactions");
            Thread.sleep(50);
        }
    }

    /**
     * Locks the pgbench tables against writers (EXCLUSIVE: reads go on), so that every
     * transaction that changed them has committed and its commit record is flushed: the flush
     * LSN then and the tables' contents belong together.
     */
    Moment moment() throws Exception {
        try (Connection c = pg.connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("lock table pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history in exclusive mode");
            Lsn lsn = Lsn.parse(one(s, "select pg_current_wal_flush_lsn()"));
            List<String> sums = new ArrayList<>();
            for (String q : TABLES) {
                sums.add(one(s, q));
            }
            c.commit();
            return new Moment(lsn, sums);
        }
    }

    static String one(Statement s, String sql) throws Exception {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Writes the backup at {@code lsn} to a tar file. */
    Path backup(Lsn lsn, boolean minimal, String name) throws IOException {
        BaseBackup b = BaseBackup.prepare(store, lsn, minimal);
        Path tar = work.resolve(name + ".tar");
        try (OutputStream out = Files.newOutputStream(tar)) {
            b.writeTo(out);
        }
        return tar;
    }

    /** Untars a backup, starts it, runs {@code check} on it, stops it. */
    void restored(Path tar, ThrowingConsumer<PgCluster> check) throws Exception {
        try (PgCluster r = PgCluster.fromTar(tar)) {
            r.start();
            String log = Files.readString(r.logFile());
            assertFalse(log.contains("redo starts"), log);
            assertTrue(log.contains("database system was shut down at"), log);
            check.accept(r);
            r.stop();
        }
    }

    interface ThrowingConsumer<T> {
        void accept(T t) throws Exception;
    }

    static List<String> checksums(PgCluster r) throws Exception {
        List<String> sums = new ArrayList<>();
        for (String q : TABLES) {
            sums.add(r.psql(q));
        }
        return sums;
    }

    @Test
    void eachMomentRestoresWithItsChecksumsAndPassesAmcheck() throws Exception {
        for (int i = 0; i < moments.size(); i++) {
            Moment m = moments.get(i);
            restored(backup(m.lsn(), false, "moment" + i), r -> {
                assertEquals(m.checksums(), checksums(r), "tables at " + m.lsn());
                r.run(List.of(PgCluster.BIN.resolve("pg_amcheck").toString(), "-h", "127.0.0.1", "-p",
                    String.valueOf(r.port()), "-U", "postgres", "--heapallindexed", "--install-missing", "-d", "postgres"),
                    false);
                assertEquals(m.lsn().segmentNumber(meta.walSegSize()) + 1,
                    Lsn.parse(r.psql("select redo_lsn from pg_control_checkpoint()")).segmentNumber(meta.walSegSize()));
            });
        }
        System.out.println("BaseBackupIT: " + moments.size() + " moments restored: " + moments);
    }

    @Test
    void theRestoredPrimaryAtTheThirdMomentGoesOnWhereItStood() throws Exception {
        Lsn third = moments.get(2).lsn();
        long maxXid = maxXidInWal(afterImport, third);
        restored(backup(third, false, "third"), r -> {
            assertEquals("open_at_third", r.psql("select gid from pg_prepared_xacts"));
            assertEquals("0", r.psql("select count(*) from ul"));
            assertEquals(inTablespace, r.psql(IN_TS));
            r.psql("insert into in_ts values (0, 'after')");
            assertTrue(Long.parseLong(r.psql("select last_value from seq")) >= seqAtThird);
            long txid = Long.parseLong(r.psql("select txid_current()"));
            assertTrue(txid > maxXid, "txid_current() " + txid + " after the primary's " + maxXid);
            r.psql("commit prepared 'open_at_third'");
            assertEquals("1", r.psql("select count(*) from mx where id = 100"));
            String oidBefore = r.psql("select max(oid::text::bigint) from pg_class");
            r.psql("create table after_restore (id int primary key)");
            assertTrue(Long.parseLong(r.psql("select 'after_restore'::regclass::oid::bigint"))
                > Long.parseLong(oidBefore), "a new table's OID is new");
            try (Connection a = connect(r); Connection b = connect(r)) {
                a.setAutoCommit(false);
                b.setAutoCommit(false);
                try (Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
                    sa.executeQuery("select * from mx for share").close();
                    sb.executeQuery("select * from mx for share").close();
                }
                a.commit();
                b.commit();
            }
            assertEquals("11", r.psql("select count(*) from mx"));
            r.psql("insert into after_restore select generate_series(1, 1000)");
            r.psql("checkpoint");
        });
    }

    static Connection connect(PgCluster r) throws Exception {
        return java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + r.port() + "/postgres?user=postgres");
    }

    /** The largest xid of any record in [from, to), as the real pg_waldump reads the primary's WAL. */
    long maxXidInWal(Lsn from, Lsn to) throws Exception {
        long max = 0;
        Matcher m = Pattern.compile("tx: +(\\d+),").matcher(pg.pgWaldump("-s", from.toString(), "-e", to.toString()));
        while (m.find()) {
            max = Math.max(max, Long.parseLong(m.group(1)));
        }
        return max;
    }

    /** A pgbench commit record as pg_waldump prints it: the transaction, where it starts and ends. */
    record Commit(long xid, Lsn start, Lsn end) {
    }

    /** The pgbench transactions' commits whose records start in [from, to). */
    List<Commit> commits(Lsn from, Lsn to) throws Exception {
        java.util.Set<Long> pgbench = new java.util.HashSet<>();
        for (String x : pg.psql("select xmin from pgbench_history").split("\n")) {
            pgbench.add(Long.parseLong(x));
        }
        List<Commit> out = new ArrayList<>();
        Matcher m = Pattern.compile("rmgr: Transaction len \\(rec/tot\\): +\\d+/ *(\\d+), tx: +(\\d+), lsn: ([0-9A-F/]+),"
            + " prev [0-9A-F/]+, desc: COMMIT").matcher(pg.pgWaldump("-s", from.toString(), "-e", to.toString()));
        while (m.find()) {
            Lsn start = Lsn.parse(m.group(3));
            long xid = Long.parseLong(m.group(2));
            long length = Long.parseLong(m.group(1));
            long inPage = start.value() % 8192;
            if (inPage + length > 8192) {
                // continued on the next page, after its header (a long one at a segment start)
                length += (start.value() + length) / meta.walSegSize() != start.value() / meta.walSegSize() ? 40 : 24;
            }
            if (pgbench.contains(xid)) {
                out.add(new Commit(xid, start, start.plus((length + 7) & ~7L)));
            }
        }
        return out;
    }

    /** Whether the pgbench_history row of transaction {@code xid} is visible (its commit applied). */
    static boolean committed(PgCluster r, long xid) throws Exception {
        return r.psql("select count(*) from pgbench_history where xmin = '" + xid + "'::xid").equals("1");
    }

    /**
     * A backup starts on timeline N+1, N the primary's, as a promotion at L would leave it: the
     * checkpoint says so, the history file forks N+1 from N at the start of the backup's WAL
     * segment, and what the restored server writes goes to segments named for N+1, never a
     * name of the primary's.
     */
    @Test
    void aRestoredBackupWritesItsWalOnANewTimeline() throws Exception {
        Lsn at = moments.get(0).lsn();
        int n = meta.timeline();
        Path tar = backup(at, false, "timeline");
        String segmentStart = new Lsn((at.segmentNumber(meta.walSegSize()) + 1) * meta.walSegSize()).toString();
        assertEquals(n + "\t" + segmentStart + "\tbase backup at LSN " + at + "\n",
            new String(entry(tar, String.format("pg_wal/%08X.history", n + 1)), java.nio.charset.StandardCharsets.UTF_8));
        restored(tar, r -> {
            assertEquals((n + 1) + "|" + n, r.psql("select timeline_id || '|' || prev_timeline_id from pg_control_checkpoint()"));
            r.psql("create table on_new_timeline as select g from generate_series(1, 10000) g");
            r.psql("select pg_switch_wal()");
            String prefix = String.format("%08X", n + 1);
            assertTrue(r.psql("select pg_walfile_name(pg_current_wal_lsn())").startsWith(prefix));
            for (String f : r.psql("select name from pg_ls_waldir() order by name").split("\n")) {
                assertTrue(f.startsWith(prefix), f + " is not named for timeline " + (n + 1));
            }
        });
    }

    /** The content of one entry of a tar. */
    static byte[] entry(Path tar, String name) throws IOException {
        try (InputStream in = Files.newInputStream(tar); TarArchiveInputStream t = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = t.getNextEntry(); e != null; e = t.getNextEntry()) {
                if (e.getName().equals(name)) {
                    return t.readAllBytes();
                }
            }
        }
        throw new AssertionError(name + " is not in " + tar);
    }

    @Test
    void anLsnInsideACommitRecordStopsBeforeIt() throws Exception {
        List<Commit> commits = commits(moments.get(0).lsn(), moments.get(1).lsn());
        Commit c = commits.get(commits.size() / 2);
        Commit before = commits.get(commits.size() / 2 - 1);
        restored(backup(c.start().plus(8), false, "inside"), r -> {
            assertFalse(committed(r, c.xid()), "the commit record L cuts is not applied");
            assertTrue(committed(r, before.xid()), "the one before it is");
        });
        restored(backup(c.end(), false, "atend"), r -> assertTrue(committed(r, c.xid()), "a commit ending at L is applied"));
    }

    @Test
    void anLsnOnAWalPageBoundary() throws Exception {
        List<Commit> commits = commits(moments.get(1).lsn(), moments.get(2).lsn());
        Lsn page = new Lsn((commits.get(commits.size() / 2).start().value() + 8191) & ~8191L);
        Commit last = null;
        Commit next = null;
        for (Commit c : commits) {
            if (!c.end().isAfter(page)) {
                last = c;
            } else if (next == null) {
                next = c;
            }
        }
        Commit applied = last;
        Commit notApplied = next;
        restored(backup(page, false, "page"), r -> {
            assertTrue(committed(r, applied.xid()), "the last commit ending by " + page);
            assertFalse(committed(r, notApplied.xid()), "the first commit ending after " + page);
        });
    }

    @Test
    void badRequestsFailBeforeAnyByteWithTheirSqlstate() {
        assertEquals("22023", assertThrows(BaseBackupException.class,
            () -> BaseBackup.prepare(store, Lsn.INVALID, false)).sqlState());
        BaseBackupException below = assertThrows(BaseBackupException.class,
            () -> BaseBackup.prepare(store, meta.consistentLsn().plus(-8), false));
        assertEquals("22023", below.sqlState());
        assertTrue(below.getMessage().contains("below the consistent point"), below.getMessage());
        BaseBackupException beyond = assertThrows(BaseBackupException.class,
            () -> BaseBackup.prepare(store, store.durableLsn().plus(8), false));
        assertEquals("55000", beyond.sqlState());
        assertEquals("22P02", assertThrows(BaseBackupException.class, () -> BaseBackup.parseLsn("0/XYZ")).sqlState());
        assertEquals("22P02", assertThrows(BaseBackupException.class, () -> BaseBackup.parseLsn("")).sqlState());
        assertNull(BaseBackup.parseLsn("latest"));
        assertEquals("42704", BaseBackupException.unknownTenant("42").sqlState());
    }

    /**
     * Every record PostgreSQL writes is redone, so the page that cannot be rebuilt is made by
     * hand: a stored record of the doomed table that does not decode (what a damaged store
     * would hold). The backup fails with 0A000 naming the page, before pg_control.
     */
    @Test
    void aPageThatCannotBeRebuiltFailsTheBackupBeforePgControl() throws Exception {
        try (StoreBatch b = store.newBatch()) {
            b.putRecord(doomed, 0, withDoomed.plus(-8), withDoomed, new PageChange.RegisteredBlock(0), false,
                new byte[] {1, 2, 3});
            b.commit();
        }
        BaseBackup b = BaseBackup.prepare(store, withDoomed, false);
        Path tar = work.resolve("doomed.tar");
        BaseBackupException e;
        try (OutputStream out = Files.newOutputStream(tar)) {
            e = assertThrows(BaseBackupException.class, () -> b.writeTo(out));
        }
        assertEquals("0A000", e.sqlState());
        assertTrue(e.getMessage().startsWith("cannot rebuild block 0 of relation " + doomed + " (" + doomed.path()
            + ") as of " + withDoomed + ": "), e.getMessage());
        assertFalse(entries(tar).containsKey("global/pg_control"));
    }

    @Test
    void theLatestBackupHasNoPreparedTransactionAndPagesWithRightChecksums() throws Exception {
        Path tar = backup(null, false, "latest");
        Map<String, Long> entries = entries(tar);
        assertFalse(entries.keySet().stream().anyMatch(p -> p.startsWith("pg_twophase/") && !p.equals("pg_twophase/")),
            entries.keySet().toString());
        int pages = 0;
        try (InputStream in = Files.newInputStream(tar); TarArchiveInputStream t = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = t.getNextEntry(); e != null; e = t.getNextEntry()) {
                RelFileName f = RelFileName.parse(e.getName());
                if (f == null || !e.isFile()) {
                    continue;
                }
                byte[] file = t.readAllBytes();
                for (int off = 0; off < file.length; off += 8192) {
                    byte[] page = java.util.Arrays.copyOfRange(file, off, off + 8192);
                    int blkno = (int) (f.firstBlock() + off / 8192);
                    if (page[14] != 0 || page[15] != 0) { // not a new page
                        int stored = (page[8] & 0xFF) | (page[9] & 0xFF) << 8;
                        assertEquals(PageChecksum.compute(page, blkno), stored, e.getName() + " block " + blkno);
                        pages++;
                    }
                }
            }
        }
        assertTrue(pages > 1000, pages + " pages");
        restored(tar, r -> {
            assertEquals(last.checksums(), checksums(r));
            List<String> restoredDump = dumpall(r);
            if (!restoredDump.equals(dumpAtEnd)) {
                java.util.Set<String> onlyPrimary = new java.util.LinkedHashSet<>(dumpAtEnd);
                restoredDump.forEach(onlyPrimary::remove);
                java.util.Set<String> onlyRestored = new java.util.LinkedHashSet<>(restoredDump);
                dumpAtEnd.forEach(onlyRestored::remove);
                throw new AssertionError("pg_dumpall differs: only in the primary's: " + onlyPrimary.stream().limit(20).toList()
                    + "; only in the restored one's: " + onlyRestored.stream().limit(20).toList());
            }
        });
    }

    /** The checksum the backup stamps is PostgreSQL's own: the primary's checkpointed files carry the same. */
    @Test
    void pageChecksumsAreThePrimarysOwn() throws Exception {
        int pages = 0;
        try (var files = Files.list(pg.dataDir().resolve("base/5"))) {
            for (Path file : files.toList()) {
                RelFileName f = RelFileName.parse("base/5/" + file.getFileName());
                if (f == null) {
                    continue;
                }
                byte[] bytes = Files.readAllBytes(file);
                for (int off = 0; off + 8192 <= bytes.length; off += 8192) {
                    byte[] page = java.util.Arrays.copyOfRange(bytes, off, off + 8192);
                    if (page[14] != 0 || page[15] != 0) {
                        int blkno = (int) (f.firstBlock() + off / 8192);
                        assertEquals((page[8] & 0xFF) | (page[9] & 0xFF) << 8, PageChecksum.compute(page, blkno),
                            file + " block " + blkno);
                        pages++;
                    }
                }
            }
        }
        assertTrue(pages > 1000, pages + " pages");
    }

    @Test
    void aMinimalBackupHoldsNoRelationFile() throws Exception {
        Path tar = backup(end, true, "minimal");
        Map<String, Long> entries = entries(tar);
        List<String> files = entries.keySet().stream().filter(p -> !p.endsWith("/")).toList();
        System.out.println("BaseBackupIT minimal backup: " + files);
        assertTrue(files.stream().noneMatch(p -> RelFileName.parse(p) != null), files.toString());
        List<String> keys = new ArrayList<>(entries.keySet());
        assertEquals("global/pg_control", keys.get(keys.size() - 1));
        for (String expected : List.of("PG_VERSION", "global/pg_filenode.map", "base/5/PG_VERSION",
            "base/5/pg_filenode.map", "base/1/pg_filenode.map", "postgresql.conf", "pg_hba.conf", "pg_xact/0000",
            "pg_multixact/offsets/0000", "pg_multixact/members/0000", "pg_wal/archive_status/", "pg_twophase/",
            "pg_tblspc/", "pg_subtrans/", "pg_notify/")) {
            assertTrue(entries.containsKey(expected), expected + " in " + keys);
        }
        for (String p : files) {
            assertTrue(p.matches("PG_VERSION|postgresql(\\.auto)?\\.conf|pg_hba\\.conf|pg_ident\\.conf|"
                + "(global|base/\\d+)/(pg_filenode\\.map|PG_VERSION)|pg_(xact|multixact/(offsets|members)|commit_ts)/[0-9A-F]{4,}|"
                + "pg_wal/[0-9A-F]{24}|pg_wal/[0-9A-F]{8}\\.history|global/pg_control|pg_logical/replorigin_checkpoint"), p);
        }
    }

    Map<String, String> controlfileErrors(TestPageServer ps) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        Lsn consistent = Lsn.parse(ps.statusRow()[5]);
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", "postgres");
        p.setProperty("preferQueryMode", "simple");
        try (Connection c = java.sql.DriverManager.getConnection(ps.url(), p); Statement st = c.createStatement()) {
            for (String q : List.of("controlfile 12345", "controlfile " + id + " 0/0", "controlfile " + id + " 0/XYZ",
                "controlfile " + id + " " + consistent.plus(-8), "controlfile " + id + " FFFF/0",
                "controlfile", "controlfile notanumber")) {
                try {
                    st.executeQuery(q).close();
                    out.put(q, "no error");
                } catch (java.sql.SQLException e) {
                    out.put(q, e.getSQLState());
                }
            }
        }
        return out;
    }

    @Test
    void controlfileAnswersPgControldataLinesAndSqlstates() throws Exception {
        Path tar = backup(moments.get(2).lsn(), false, "controlfile");
        try (PgCluster r = PgCluster.fromTar(tar)) {
            String real = r.run(List.of(PgCluster.BIN.resolve("pg_controldata").toString(), "-D",
                r.dataDir().toString()), false);
            List<String> ours = new ArrayList<>();
            for (String row : controlfileAtThird.split("\n")) {
                int bar = row.indexOf('|');
                ours.add(String.format("%-38s%s", row.substring(0, bar) + ":", row.substring(bar + 1)));
            }
            List<String> theirs = List.of(real.split("\n"));
            assertEquals(theirs.size(), ours.size());
            for (int i = 0; i < ours.size(); i++) {
                // the times are the moment each pg_control was made
                if (!theirs.get(i).startsWith("pg_control last modified") && !theirs.get(i).startsWith("Time of latest")) {
                    assertEquals(theirs.get(i), ours.get(i));
                }
            }
        }
        assertEquals(List.of("42704", "22023", "22P02", "22023", "55000", "42601", "42601"),
            new ArrayList<>(controlfileErrors.values()), controlfileErrors.toString());
    }

    /**
     * pg_dumpall, less what differs by PostgreSQL's own design: unlogged tables' data (empty
     * after a restore), a sequence's value (a restored
     * one is up to 32 ahead, nextval logs ahead) and a tablespace's location (in the backup it is
     * a directory in pg_tblspc, not a link to the primary's path), and the random key of
     * pg_dump's \restrict lines.
     */
    static List<String> dumpall(PgCluster c) throws Exception {
        String out = c.run(List.of(PgCluster.BIN.resolve("pg_dumpall").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(c.port()), "-U", "postgres", "--no-unlogged-table-data"), false);
        return java.util.Arrays.stream(out.split("\n"))
            .filter(l -> !l.contains("pg_catalog.setval(") && !l.startsWith("CREATE TABLESPACE")
                && !l.startsWith("\\restrict ") && !l.startsWith("\\unrestrict ")).toList();
    }

    /** Every entry of a tar: name and size, in tar order. */
    static Map<String, Long> entries(Path tar) throws IOException {
        Map<String, Long> out = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(tar); TarArchiveInputStream t = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = t.getNextEntry(); e != null; e = t.getNextEntry()) {
                out.put(e.getName(), e.getSize());
            }
        } catch (IOException truncated) {
            // a cut-off tar: what was read so far
        }
        return out;
    }
}
