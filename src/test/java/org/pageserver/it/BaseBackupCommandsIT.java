package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.pageserver.cli.Cli;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFile;
import org.postgresql.PGConnection;
import org.postgresql.util.PSQLException;

/**
 * The ways out of the pageserver that people use, against a pageserver following a real
 * PostgreSQL 15 under pgbench: the {@code basebackup} command read by psql, stock
 * {@code pg_basebackup} in plain and tar formats (its manifest checked by pg_verifybackup), the
 * CLI, bad requests of every kind, and two backups at once while GetPage traffic goes on. Each
 * backup is started as a stock PostgreSQL 15 and must hold the primary's data as of its LSN
 * (BaseBackupIT checks the contents closely; here the checksum of pgbench_accounts).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BaseBackupCommandsIT {
    static final String ACCOUNTS = "select md5(string_agg(a::text, ',' order by aid)) from pgbench_accounts a";

    PgCluster pg;
    TestPageServer ps;
    Path work;
    SystemId id;
    /** The primary's flush LSN after the load, and its accounts' checksum there. */
    Lsn at;
    String accountsAt;
    /** What the queries answered by each index method's index returned on the primary at {@code at}. */
    List<String> indexAnswersAt;

    /** A table with an index of every core method (and bloom's generic WAL), changed after they were built. */
    static final String EVERY_INDEX_METHOD = """
        create extension if not exists bloom;
        create table docs (id int, tags int[], body tsvector, p point, r int4range, t text, ip inet);
        insert into docs select g, array[g % 10, g % 7], to_tsvector('english', 'word' || (g % 50) || ' doc ' || g),
            point(g % 100, g / 100), int4range(g, g + 10), md5(g::text), ('10.0.' || (g % 250) || '.' || (g % 200))::inet
            from generate_series(1, 5000) g;
        create index docs_hash on docs using hash (id);
        create index docs_gin on docs using gin (tags);
        create index docs_fts on docs using gin (body);
        create index docs_gist on docs using gist (p);
        create index docs_range on docs using gist (r);
        create index docs_spgist on docs using spgist (t);
        create index docs_inet on docs using spgist (ip inet_ops);
        create index docs_brin on docs using brin (id) with (pages_per_range = 4);
        create index docs_bloom on docs using bloom (id);
        insert into docs select g, array[g % 5], to_tsvector('english', 'later ' || g), point(g % 50, 1),
            int4range(g, g + 2), md5(g::text), '192.168.0.1' from generate_series(5001, 7000) g;
        delete from docs where id % 9 = 0;
        vacuum docs;
        update docs set tags = array[42] where id % 11 = 0;
        """;

    /** One query per index, run with sequential scans off so the index answers it. */
    static final List<String> INDEX_QUERIES = List.of(
        "select count(*), sum(id) from docs where id = 4242",
        "select count(*), sum(id) from docs where tags @> array[42]",
        "select count(*), sum(id) from docs where body @@ to_tsquery('english', 'word7')",
        "select count(*), sum(id) from docs where p <@ box '((10,10),(20,30))'",
        "select count(*), sum(id) from docs where r && int4range(100, 120)",
        "select count(*), sum(id) from docs where t like 'ab%'",
        "select count(*), sum(id) from docs where ip << '10.0.7.0/24'",
        "select count(*), sum(id) from docs where id between 1000 and 1100",
        "select count(*), sum(id) from docs where id = 777");

    static List<String> indexAnswers(PgCluster c) throws Exception {
        List<String> out = new ArrayList<>();
        for (String q : INDEX_QUERIES) {
            out.add(c.psqlScript("set enable_seqscan = off;\n" + q + ";\n").trim());
        }
        return out;
    }

    @BeforeAll
    void followAPrimary() throws Exception {
        work = Files.createTempDirectory("basebackupcommandsit-");
        work.toFile().setExecutable(true, false);
        work.toFile().setWritable(true, false);
        pg = PgCluster.builder().start();
        pg.pgbench("-i", "-s", "2", "-q");
        ps = TestPageServer.start(work.resolve("ps"));
        id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        pg.pgbench("-n", "-c", "2", "-t", "300");
        pg.psqlScript(EVERY_INDEX_METHOD);
        at = pg.flushLsn();
        accountsAt = pg.psql(ACCOUNTS);
        indexAnswersAt = indexAnswers(pg);
        pg.pgbench("-n", "-c", "2", "-t", "200"); // later changes a backup at `at` must not have
        ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
    }

    @AfterAll
    void stop() {
        ps.close();
        pg.close();
    }

    /** Runs a client program as user postgres (pg_basebackup refuses nothing as root, but the files must be postgres's). */
    String run(Map<String, String> env, String... cmd) throws Exception {
        List<String> full = new ArrayList<>(List.of("runuser", "-u", "postgres", "--", "env"));
        env.forEach((k, v) -> full.add(k + "=" + v));
        full.addAll(List.of(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), String.join(" ", cmd) + " did not end");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    Path dir(String name) throws Exception {
        Path d = work.resolve(name);
        Files.createDirectories(d);
        new ProcessBuilder("chown", "postgres", d.toString()).start().waitFor();
        return d;
    }

    /** Starts a stock PostgreSQL 15 on the tar and returns the accounts' checksum; asserts it started without redo. */
    static String accountsOf(Path tar) throws Exception {
        try (PgCluster r = PgCluster.fromTar(tar)) {
            r.start();
            String log = Files.readString(r.logFile());
            assertFalse(log.contains("redo starts"), log);
            return r.psql(ACCOUNTS);
        }
    }

    /** A directory made into a tar, to start it the same way as the others. */
    Path tarOf(Path dataDir) throws Exception {
        Path tar = work.resolve(dataDir.getFileName() + "-dir.tar");
        Process p = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", dataDir.toString(), ".").redirectErrorStream(true)
            .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        return tar;
    }

    @Test
    void psqlReadsTheBasebackupCommandAndTheTarStartsAtItsLsn() throws Exception {
        Path tar = work.resolve("psql.tar");
        Process p = new ProcessBuilder(PgCluster.BIN.resolve("psql").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(ps.port()), "-U", "postgres", "-At", "-c", "basebackup " + id + " " + at)
            .redirectOutput(tar.toFile()).redirectError(ProcessBuilder.Redirect.PIPE).start();
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, err);
        assertEquals(accountsAt, accountsOf(tar));
    }

    /**
     * A backup of a database with an index of every method: each index answers its query as the
     * primary's did at the LSN, and pg_amcheck --heapallindexed (B-tree and heap) passes.
     */
    @Test
    void everyIndexMethodAnswersAfterRestoreAndAmcheckPasses() throws Exception {
        Path tar = work.resolve("indexes.tar");
        try (Connection c = connect(); var out = Files.newOutputStream(tar)) {
            c.unwrap(PGConnection.class).getCopyAPI().copyOut("basebackup " + id + " " + at, out);
        }
        try (PgCluster r = PgCluster.fromTar(tar)) {
            r.start();
            assertEquals(indexAnswersAt, indexAnswers(r));
            String plan = r.psqlScript("set enable_seqscan = off;\nexplain " + INDEX_QUERIES.get(1) + ";\n");
            assertTrue(plan.contains("docs_gin"), plan);
            r.run(List.of(PgCluster.BIN.resolve("pg_amcheck").toString(), "-h", "127.0.0.1", "-p",
                String.valueOf(r.port()), "-U", "postgres", "--heapallindexed", "--install-missing", "-d", "postgres"), true);
        }
    }

    @Test
    void aMinimalBackupHasNoRelationFile() throws Exception {
        Path tar = work.resolve("minimal.tar");
        try (Connection c = connect(); var out = Files.newOutputStream(tar)) {
            c.unwrap(PGConnection.class).getCopyAPI().copyOut("basebackup " + id + " " + at + " minimal", out);
        }
        Map<String, Long> entries = entries(tar);
        assertTrue(entries.containsKey("global/pg_control") && entries.containsKey("global/pg_filenode.map"),
            entries.keySet().toString());
        assertTrue(entries.keySet().stream().noneMatch(n -> n.matches("(global|base/\\d+)/\\d+(_\\w+)?(\\.\\d+)?")),
            "no relation file: " + entries.keySet());
    }

    @Test
    void pgBasebackupPlainFormatVerifiesAndStarts() throws Exception {
        Path target = dir("plain").resolve("data");
        run(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=" + at), PgCluster.BIN.resolve("pg_basebackup").toString(),
            "-h", "127.0.0.1", "-p", String.valueOf(ps.port()), "-U", "postgres", "-X", "none", "-D", target.toString());
        String verified = run(Map.of(), PgCluster.BIN.resolve("pg_verifybackup").toString(), target.toString());
        assertTrue(verified.contains("backup successfully verified"), verified);
        assertEquals(accountsAt, accountsOf(tarOf(target)));
    }

    /**
     * The backup is on a timeline of its own, the primary's plus one: pg_basebackup is told so
     * by BASE_BACKUP (it prints the start position with -X fetch, which adds no WAL here), the
     * manifest's WAL range is on it, and pg_wal holds its history file and its segment named
     * for it.
     */
    @Test
    void pgBasebackupGetsTheBackupsNewTimeline() throws Exception {
        int n = Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()"));
        Path target = dir("newtimeline").resolve("data");
        String out = run(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=" + at),
            PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p", String.valueOf(ps.port()), "-U",
            "postgres", "-X", "fetch", "--verbose", "-D", target.toString());
        assertTrue(out.matches("(?s).*write-ahead log start point: [0-9A-F]+/[0-9A-F]+ on timeline " + (n + 1) + "\n.*"),
            out);
        assertTrue(Files.readString(target.resolve("backup_manifest")).contains("{ \"Timeline\": " + (n + 1) + ","));
        List<String> wal;
        try (var files = Files.list(target.resolve("pg_wal"))) {
            wal = files.map(f -> f.getFileName().toString()).filter(f -> !f.equals("archive_status")).sorted().toList();
        }
        assertEquals(2, wal.size(), wal.toString());
        assertEquals(String.format("%08X.history", n + 1), wal.get(0));
        assertTrue(wal.get(1).startsWith(String.format("%08X", n + 1)), wal.toString());
    }

    /** controlfile shows pg_control as the backup holds it: on timeline N+1, forked from N. */
    @Test
    void controlfileShowsTheBackupsNewTimeline() throws Exception {
        int n = Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()"));
        Map<String, String> fields = new TreeMap<>();
        try (Connection c = connect(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("controlfile " + id + " " + at)) {
            while (rs.next()) {
                fields.put(rs.getString(1), rs.getString(2));
            }
        }
        assertEquals(String.valueOf(n + 1), fields.get("Latest checkpoint's TimeLineID"), fields.toString());
        assertEquals(String.valueOf(n), fields.get("Latest checkpoint's PrevTimeLineID"), fields.toString());
    }

    /** A standby follows the primary's timeline: its backup stays on it, with no history file. */
    @Test
    void aStandbyBackupStaysOnThePrimarysTimeline() throws Exception {
        int n = Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()"));
        Path tar = work.resolve("standby.tar");
        try (Connection c = connect(); var out = Files.newOutputStream(tar)) {
            c.unwrap(PGConnection.class).getCopyAPI().copyOut("basebackup " + id + " " + at + " standby", out);
        }
        assertTrue(entries(tar).keySet().stream().noneMatch(e -> e.startsWith("pg_wal/") && !e.endsWith("/")),
            entries(tar).keySet().toString());
        byte[] control = null;
        try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
            for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                if (e.getName().equals("global/pg_control")) {
                    control = in.readAllBytes();
                }
            }
        }
        ControlFile pgControl = ControlFile.parse(control);
        assertEquals(n, pgControl.checkPointCopy().thisTimeLineId());
    }

    @Test
    void pgBasebackupTarFormatCompressedWithProgressStarts() throws Exception {
        Path target = dir("tarformat").resolve("out");
        String out = run(Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=" + at),
            PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p", String.valueOf(ps.port()), "-U",
            "postgres", "-X", "none", "-D", target.toString(), "-F", "tar", "-z", "--checkpoint=fast", "--progress");
        assertTrue(out.contains("1/1 tablespace"), out);
        Path gz = target.resolve("base.tar.gz");
        assertTrue(Files.size(gz) > 0 && Files.exists(target.resolve("backup_manifest")));
        Path tar = work.resolve("tarformat.tar");
        Process p = new ProcessBuilder("sh", "-c", "gzip -dc '" + gz + "' > '" + tar + "'").redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, new String(p.getInputStream().readAllBytes()));
        assertEquals(accountsAt, accountsOf(tar));
    }

    @Test
    void theCliWritesADirectoryAndATar() throws Exception {
        Path target = work.resolve("cli-dir");
        assertEquals(0, cli("basebackup", "--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn",
            at.toString(), "-D", target.toString()));
        assertTrue(Files.exists(target.resolve("global/pg_control")));
        assertEquals(accountsAt, accountsOf(tarOf(target)));
        Path tar = work.resolve("cli.tar");
        assertEquals(0, cli("basebackup", "--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--latest",
            "--minimal", "-f", tar.toString()));
        assertTrue(entries(tar).containsKey("global/pg_control"));
        Path latest = work.resolve("cli-latest.tar");
        assertEquals(0, cli("basebackup", "--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--minimal",
            "-f", latest.toString()), "neither --lsn nor --latest: the latest");
        assertTrue(entries(latest).containsKey("global/pg_control"));
        assertEquals(2, cli("basebackup", "--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--latest",
            "-D", target.toString()), "a directory that is not empty");
        assertEquals(1, cli("basebackup", "--port", String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn",
            "0/10", "-f", work.resolve("below.tar").toString()), "below the consistent point");
    }

    static int cli(String... args) {
        return Cli.run(args, new PrintStream(new ByteArrayOutputStream(), true), new PrintStream(new ByteArrayOutputStream(),
            true));
    }

    /** Every bad request is an ErrorResponse with its SQLSTATE before any byte; the server goes on. */
    @Test
    void badRequestsGetTheirSqlstateAndTheServerGoesOn() throws Exception {
        Map<String, String> expected = new TreeMap<>(Map.of(
            "basebackup", "42601",
            "basebackup " + id + " 0/1/2", "22P02",
            "basebackup " + id + " 0/0", "22023",
            "basebackup " + id + " 0/10", "22023",
            "basebackup " + id + " FF/0", "55000",
            "basebackup 12345", "42704",
            "basebackup " + id + " latest minimal extra", "42601",
            "basebackup notanid", "42601"));
        for (Map.Entry<String, String> e : expected.entrySet()) {
            try (Connection c = connect()) {
                PSQLException ex = org.junit.jupiter.api.Assertions.assertThrows(PSQLException.class,
                    () -> c.unwrap(PGConnection.class).getCopyAPI().copyOut(e.getKey(), new ByteArrayOutputStream()));
                assertEquals(e.getValue(), ex.getSQLState(), e.getKey() + ": " + ex.getMessage());
                try (Statement st = c.createStatement()) {
                    assertTrue(st.executeQuery("status").next(), "the same connection still answers");
                }
            }
        }
        Map<String, String> env = Map.of("PGOPTIONS", "-c system_id=" + id + " -c lsn=0/10");
        Path target = dir("refused").resolve("data");
        ProcessBuilder pb = new ProcessBuilder("runuser", "-u", "postgres", "--", "env", "PGOPTIONS=" + env.get("PGOPTIONS"),
            PgCluster.BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p", String.valueOf(ps.port()), "-U",
            "postgres", "-X", "none", "-D", target.toString()).redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() != 0, out);
        assertTrue(out.contains("below the consistent point"), out);
    }

    /**
     * Two full backups streaming at once, read slowly, while a client keeps asking for pages:
     * both complete and start, and every GetPage is answered meanwhile.
     */
    @Test
    void twoBackupsAtOnceWhileGetPageGoesOn() throws Exception {
        RelTag accounts = new RelTag(RelTag.DEFAULTTABLESPACE_OID, Integer.parseInt(pg.psql(
            "select oid from pg_database where datname = 'postgres'")), Integer.parseInt(pg.psql(
            "select pg_relation_filenode('pgbench_accounts')")), ForkNumber.MAIN);
        List<CompletableFuture<Path>> backups = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path tar = work.resolve("parallel-" + i + ".tar");
            backups.add(CompletableFuture.supplyAsync(() -> {
                try (Connection c = connect(); var out = new SlowStream(Files.newOutputStream(tar))) {
                    c.unwrap(PGConnection.class).getCopyAPI().copyOut("basebackup " + id + " " + at, out);
                    return tar;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        int pages = 0;
        try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
            int n = c.nblocks(accounts, at, false);
            while (!backups.stream().allMatch(CompletableFuture::isDone)) {
                c.getPage(accounts, pages % n, at, false);
                pages++;
            }
        }
        assertTrue(pages > 10, pages + " pages read while the backups ran");
        for (CompletableFuture<Path> b : backups) {
            assertEquals(accountsAt, accountsOf(b.get()));
        }
    }

    /** A client that reads 1 MB, then pauses a little: the server must wait for it, not buffer the backup. */
    static final class SlowStream extends java.io.FilterOutputStream {
        private long sinceNap;

        SlowStream(java.io.OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            out.write(b, off, len);
            sinceNap += len;
            if (sinceNap > (1 << 20)) {
                sinceNap = 0;
                try {
                    TimeUnit.MILLISECONDS.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
            }
        }
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + ps.port() + "/postgres?user=postgres"
            + "&preferQueryMode=simple&assumeMinServerVersion=15");
    }

    static Map<String, Long> entries(Path tar) throws Exception {
        Map<String, Long> out = new TreeMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                out.put(e.getName(), e.getSize());
            }
        }
        return out;
    }
}
