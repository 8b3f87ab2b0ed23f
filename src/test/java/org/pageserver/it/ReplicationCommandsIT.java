package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;

/**
 * Replication connections to the pageserver with the real psql, answered as the primary answers
 * them: IDENTIFY_SYSTEM and the SHOWs of pg_basebackup and pg_receivewal side by side with
 * PostgreSQL's own answers; the tenant and LSN chosen by PGOPTIONS; clear errors for the rest.
 */
class ReplicationCommandsIT {
    @TempDir
    static Path tmp;
    static PgCluster pg;
    static TestPageServer ps;
    static String systemId;

    @BeforeAll
    static void start() throws Exception {
        pg = PgCluster.builder().start();
        ps = TestPageServer.start(tmp.resolve("ps"));
        systemId = ps.psql("callmemaybe " + pg.conninfo());
    }

    @AfterAll
    static void stop() {
        if (ps != null) {
            ps.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    record Proc(int exit, String out, String err) {
    }

    /** psql -XAt on a replication connection; {@code options} is PGOPTIONS (null: none). */
    static Proc psql(int port, String replication, String options, String sql) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
            "host=127.0.0.1 port=" + port + " user=postgres dbname=postgres replication=" + replication, "-c", sql));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("PGOPTIONS");
        if (options != null) {
            pb.environment().put("PGOPTIONS", options);
        }
        return run(pb);
    }

    /** Runs psql to its end: its status, standard output and standard error. */
    static Proc run(ProcessBuilder psql) throws Exception {
        Process p = psql.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "psql timed out");
        return new Proc(p.exitValue(), out.strip(), err.strip());
    }

    static String ok(Proc p) {
        assertEquals(0, p.exit(), p.err());
        return p.out();
    }

    @Test
    void identifySystemAsThePrimaryAnswersIt() throws Exception {
        String[] primary = ok(psql(pg.port(), "database", null, "IDENTIFY_SYSTEM")).split("\\|", -1);
        String[] mine = ok(psql(ps.port(), "database", null, "IDENTIFY_SYSTEM")).split("\\|", -1);
        assertEquals(4, mine.length);
        assertEquals(systemId, mine[0]);
        assertEquals(primary[0], mine[0], "systemid");
        assertEquals(primary[1], mine[1], "timeline");
        assertEquals(primary[3], mine[3], "dbname");
        assertTrue(Lsn.parse(mine[2]).compareTo(Lsn.parse(primary[2])) <= 0, mine[2] + " beyond the primary's "
            + primary[2]);
        // a physical connection has no database: dbname is NULL
        assertEquals("", ok(psql(ps.port(), "true", null, "IDENTIFY_SYSTEM")).split("\\|", -1)[3]);
    }

    @Test
    void pgOptionsChooseTheTenantAndTheLsn() throws Exception {
        String row = ok(psql(ps.port(), "on", "-c system_id=" + systemId + " -c lsn=0/3000028", "IDENTIFY_SYSTEM"));
        assertEquals(systemId + "|1|0/3000028|", row);
        Proc unknown = psql(ps.port(), "1", "-c system_id=42", "IDENTIFY_SYSTEM");
        assertEquals(1, unknown.exit());
        assertTrue(unknown.err().contains("unknown system_id 42: no such tenant"), unknown.err());
        Proc badLsn = psql(ps.port(), "yes", "--lsn=nowhere", "IDENTIFY_SYSTEM");
        assertEquals(2, badLsn.exit());
        assertTrue(badLsn.err().contains("FATAL:  invalid value for parameter \"lsn\": \"nowhere\""), badLsn.err());
    }

    @Test
    void showAnswersWhatPgBasebackupAndPgReceivewalAsk() throws Exception {
        for (String name : List.of("wal_segment_size", "data_directory_mode")) {
            assertEquals(ok(psql(pg.port(), "true", null, "SHOW " + name)), ok(psql(ps.port(), "true", null, "SHOW " + name)),
                name);
        }
        Proc unknown = psql(ps.port(), "true", null, "SHOW shared_buffers");
        assertTrue(unknown.err().contains("unrecognized configuration parameter \"shared_buffers\""), unknown.err());
    }

    @Test
    void aTemporaryPhysicalSlotLivesAsLongAsItsConnection() throws Exception {
        String out = ok(psql(ps.port(), "true", null, "CREATE_REPLICATION_SLOT t TEMPORARY PHYSICAL RESERVE_WAL"));
        assertEquals("t|0/0||", out);
        // gone with its connection: the next one does not know it
        Proc again = psql(ps.port(), "true", null, "DROP_REPLICATION_SLOT t");
        assertTrue(again.err().contains("ERROR:  replication slot \"t\" does not exist"), again.err());
    }

    /**
     * While a BASE_BACKUP is being sent, a connection with the same options that made a
     * temporary slot first (pg_basebackup -X stream's WAL connection) is told the backup's
     * timeline, the tenant's plus one, and gets its history file; one that made none (a
     * standby's walreceiver) is told the tenant's timeline.
     */
    @Test
    void onlyAConnectionWithATemporarySlotIsToldARunningBackupsTimeline() throws Exception {
        int n = Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()"));
        String options = "-c system_id=" + systemId;
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-At",
            "host=127.0.0.1 port=" + ps.port() + " user=postgres dbname=postgres replication=true", "-c", "BASE_BACKUP");
        pb.environment().put("PGOPTIONS", options);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        // its output is never read: the backup waits for it, its connection open
        Process stalled = pb.start();
        try {
            Conditions.await(java.time.Duration.ofSeconds(60), () -> !ps.statusRow()[7].isEmpty(),
                () -> "no base backup running");
            String[] standby = ok(psql(ps.port(), "true", options, "IDENTIFY_SYSTEM")).split("\\|", -1);
            assertEquals(String.valueOf(n), standby[1]);
            String[] lines = ok(psqlCommands(ps.port(), options, "CREATE_REPLICATION_SLOT s TEMPORARY PHYSICAL",
                "IDENTIFY_SYSTEM", "TIMELINE_HISTORY " + (n + 1))).split("\n");
            assertEquals(String.valueOf(n + 1), lines[1].split("\\|", -1)[1]);
            assertTrue(lines[2].startsWith(String.format("%08X.history|%d\t", n + 1, n)), lines[2]);
        } finally {
            stalled.destroy();
            assertTrue(stalled.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /** psql -XAt running several commands on one physical replication connection. */
    static Proc psqlCommands(int port, String options, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
            "host=127.0.0.1 port=" + port + " user=postgres dbname=postgres replication=true"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("PGOPTIONS", options);
        return run(pb);
    }

    @Test
    void commandsNotServedAreClearErrors() throws Exception {
        String[][] cases = {
            {"true", "BASE_BACKUP (COMPRESSION 'gzip')", "server-side compression (gzip) is not supported by the pageserver"},
            {"true", "BASE_BACKUP (TARGET 'blackhole')", "backup target \"blackhole\" is not supported by the pageserver"},
            {"true", "BASE_BACKUP (MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256')", "the pageserver writes backup manifests"},
            {"true", "START_REPLICATION SLOT nope 0/3000000", "replication slot \"nope\" does not exist"},
            {"true", "START_REPLICATION SLOT nope LOGICAL 0/3000000", "replication slot \"nope\" does not exist"},
            {"true", "START_REPLICATION 0/3000000 TIMELINE 2", "requested timeline 2 is not in this server's history"},
            {"true", "START_REPLICATION 0/1000000", "requested WAL segment 000000010000000000000001 has already been removed"},
            {"true", "TIMELINE_HISTORY 1", "could not open file \"pg_wal/00000001.history\": No such file or directory"},
            {"true", "DROP_REPLICATION_SLOT nope", "replication slot \"nope\" does not exist"},
            {"true", "CREATE_REPLICATION_SLOT s PHYSICAL", "the pageserver has no replication slots but temporary physical ones"},
            {"true", "CREATE_REPLICATION_SLOT s TEMPORARY LOGICAL pgoutput", "the pageserver has no replication slots"},
            {"true", "BASE_BACKUP (BOGUS)", "unrecognized base backup option: \"bogus\""},
            {"true", "IDENTIFY_SYSTEM extra", "syntax error at or near \"extra\""},
            {"true", "status", "cannot execute SQL commands in WAL sender for physical replication"},
        };
        for (String[] k : cases) {
            Proc p = psql(ps.port(), k[0], null, k[1]);
            assertEquals(1, p.exit(), k[1]);
            assertTrue(p.err().contains("ERROR:  " + k[2]), k[1] + ": " + p.err());
        }
        // SQL on a replication=database connection is the ordinary commands
        assertTrue(ok(psql(ps.port(), "database", null, "status")).startsWith(systemId + "|"));
        Proc bad = psql(ps.port(), "maybe", null, "IDENTIFY_SYSTEM");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("FATAL:  invalid value for parameter \"replication\": \"maybe\""), bad.err());
    }
}
