package org.pageserver.protocol.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.replication.ReplicationCommand.BaseBackup;
import org.pageserver.protocol.replication.ReplicationCommand.CreateReplicationSlot;
import org.pageserver.protocol.replication.ReplicationCommand.DropReplicationSlot;
import org.pageserver.protocol.replication.ReplicationCommand.IdentifySystem;
import org.pageserver.protocol.replication.ReplicationCommand.Option;
import org.pageserver.protocol.replication.ReplicationCommand.ReadReplicationSlot;
import org.pageserver.protocol.replication.ReplicationCommand.Show;
import org.pageserver.protocol.replication.ReplicationCommand.StartReplication;
import org.pageserver.protocol.replication.ReplicationCommand.TimelineHistory;

class ReplicationCommandParserTest {

    static ReplicationCommand parse(String s) {
        return ReplicationCommandParser.parse(s);
    }

    static PgProtocolException refused(String s) {
        return assertThrows(PgProtocolException.class, () -> parse(s), s);
    }

    @Test
    void simpleCommands() {
        assertEquals(new IdentifySystem(), parse("IDENTIFY_SYSTEM"));
        assertEquals(new IdentifySystem(), parse("  IDENTIFY_SYSTEM ;"));
        assertEquals(new Show("wal_segment_size"), parse("SHOW wal_segment_size"));
        assertEquals(new Show("data_directory_mode"), parse("SHOW Data_Directory_Mode"));
        assertEquals(new Show("a.b"), parse("SHOW a . \"b\""));
        assertEquals(new TimelineHistory(2), parse("TIMELINE_HISTORY 2"));
        assertEquals(new ReadReplicationSlot("s1"), parse("READ_REPLICATION_SLOT s1"));
        assertEquals(new DropReplicationSlot("s", true), parse("DROP_REPLICATION_SLOT s WAIT"));
        assertEquals(new DropReplicationSlot("Mixed Case", false), parse("DROP_REPLICATION_SLOT \"Mixed Case\""));
    }

    @Test
    void startReplication() {
        assertEquals(new StartReplication(null, false, Lsn.parse("0/3000000"), 0, List.of()),
            parse("START_REPLICATION 0/3000000"));
        assertEquals(new StartReplication("s", false, Lsn.parse("16/B374D848"), 3, List.of()),
            parse("START_REPLICATION SLOT s PHYSICAL 16/B374D848 TIMELINE 3"));
        assertEquals(new StartReplication("s", true, Lsn.parse("0/0"), 0,
                List.of(new Option("proto_version", "1"), new Option("binary", null))),
            parse("START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', binary)"));
    }

    @Test
    void createReplicationSlot() {
        assertEquals(new CreateReplicationSlot("p", true, false, null, List.of(new Option("reserve_wal", "true"))),
            parse("CREATE_REPLICATION_SLOT p TEMPORARY PHYSICAL RESERVE_WAL"));
        assertEquals(new CreateReplicationSlot("l", false, true, "pgoutput",
                List.of(new Option("snapshot", "nothing"), new Option("two_phase", null))),
            parse("CREATE_REPLICATION_SLOT l LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE)"));
    }

    /** What PostgreSQL 15's pg_basebackup sends (GenerateRecoveryConf aside). */
    @Test
    void baseBackupAsPgBasebackupSendsIt() {
        BaseBackup b = (BaseBackup) parse("BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  "
            + "CHECKPOINT 'fast',  WAIT 0,  MANIFEST 'yes',  TARGET 'client',  MAX_RATE 1024,  TABLESPACE_MAP, "
            + "VERIFY_CHECKSUMS 0, MANIFEST_CHECKSUMS 'SHA256', COMPRESSION 'gzip', COMPRESSION_DETAIL 'level=5')");
        BaseBackupOptions o = b.options();
        assertEquals("pg_basebackup base backup", o.label());
        assertTrue(o.progress());
        assertTrue(o.fastCheckpoint());
        assertFalse(o.waitForWalArchive());
        assertEquals("yes", o.manifest());
        assertEquals("client", o.target());
        assertEquals(1024, o.maxRate());
        assertTrue(o.tablespaceMap());
        assertFalse(o.verifyChecksums());
        assertEquals("SHA256", o.manifestChecksums());
        assertEquals("gzip", o.compression());
        assertEquals("level=5", o.compressionDetail());
    }

    @Test
    void bareBaseBackupHasPostgresDefaults() {
        BaseBackupOptions o = ((BaseBackup) parse("BASE_BACKUP")).options();
        assertEquals(BaseBackupOptions.defaults(), o);
        assertEquals("base backup", o.label());
        assertTrue(o.waitForWalArchive());
        assertTrue(o.verifyChecksums());
        assertEquals("no", o.manifest());
        assertEquals("NONE", o.manifestChecksums());
        assertEquals("none", o.compression());
        assertEquals("CRC32C", ((BaseBackup) parse("BASE_BACKUP (MANIFEST 'force-encode')")).options()
            .manifestChecksums());
    }

    @Test
    void baseBackupOptionsAreCheckedAsPostgresChecksThem() {
        String[][] cases = {
            {"BASE_BACKUP (LABEL 'a', LABEL 'b')", "42601", "duplicate option \"label\""},
            {"BASE_BACKUP (NOVERIFY_CHECKSUMS)", "42601", "unrecognized base backup option: \"noverify_checksums\""},
            {"BASE_BACKUP (INCREMENTAL)", "42601", "unrecognized base backup option: \"incremental\""},
            {"BASE_BACKUP (LABEL)", "42601", "label requires a parameter"},
            {"BASE_BACKUP (PROGRESS 'maybe')", "42601", "progress requires a Boolean value"},
            {"BASE_BACKUP (CHECKPOINT 'slow')", "42601", "unrecognized checkpoint type: \"slow\""},
            {"BASE_BACKUP (MAX_RATE 1)", "22003", "1 is outside the valid range for parameter \"max_rate\" (32 .. 1048576)"},
            {"BASE_BACKUP (MANIFEST 'perhaps')", "42601", "unrecognized manifest option: \"perhaps\""},
            {"BASE_BACKUP (MANIFEST_CHECKSUMS 'md5', MANIFEST 'yes')", "42601", "unrecognized checksum algorithm: \"md5\""},
            {"BASE_BACKUP (MANIFEST_CHECKSUMS 'SHA256')", "42601", "manifest checksums require a backup manifest"},
            {"BASE_BACKUP (TARGET_DETAIL 'x')", "42601", "target detail cannot be used without target"},
            {"BASE_BACKUP (TARGET 'client', TARGET_DETAIL 'x')", "42601", "target \"client\" does not accept a target detail"},
            {"BASE_BACKUP (COMPRESSION 'brotli')", "42601", "unrecognized compression algorithm: \"brotli\""},
            {"BASE_BACKUP (COMPRESSION_DETAIL '1')", "42601",
                "compression detail cannot be specified unless compression is enabled"},
        };
        for (String[] k : cases) {
            PgProtocolException e = refused(k[0]);
            assertEquals(k[1], e.sqlState(), k[0]);
            assertEquals(k[2], e.getMessage(), k[0]);
        }
    }

    @Test
    void syntaxErrorsSayWhere() {
        String[][] cases = {
            {"", "syntax error at end of input"},
            {"identify_system", "syntax error at or near \"identify_system\""},
            {"IDENTIFY_SYSTEM now", "syntax error at or near \"now\""},
            {"SHOW", "syntax error at end of input"},
            {"TIMELINE_HISTORY 0", "invalid timeline 0"},
            {"TIMELINE_HISTORY 99999999999", "integer 99999999999 is out of range"},
            {"START_REPLICATION 123456789/0", "invalid streaming start location \"123456789/0\""},
            {"START_REPLICATION SLOT s LOGICAL 0/0 (a 'b'", "syntax error at end of input"},
            {"BASE_BACKUP (LABEL 'unterminated", "unterminated quoted string"},
            {"BASE_BACKUP LABEL 'old style'", "syntax error at or near \"LABEL\""},
            {"DROP_REPLICATION_SLOT", "syntax error at end of input"},
            {"CREATE_REPLICATION_SLOT s", "syntax error at end of input"},
            {"IDENTIFY_SYSTEM;;", "syntax error at or near \";\""},
        };
        for (String[] k : cases) {
            PgProtocolException e = refused(k[0]);
            assertEquals("42601", e.sqlState(), k[0]);
            assertEquals(k[1], e.getMessage(), k[0]);
        }
    }

    @Test
    void tokensFollowTheScanner() {
        // the longest match wins: a keyword with more letters is an identifier
        assertEquals(new Show("show_x"), parse("SHOW SHOW_X"));
        // identifiers are cut to 63 bytes, at a character boundary
        String longName = "a".repeat(62) + "é";
        assertEquals(new ReadReplicationSlot("a".repeat(62)), parse("READ_REPLICATION_SLOT " + longName));
        // quoted identifiers keep their case; strings keep a doubled quote as one
        assertEquals("it's", ((BaseBackup) parse("BASE_BACKUP (LABEL 'it''s')")).options().label());
        // a keyword as an option name is the option's lower-case name
        assertFalse(((BaseBackup) parse("BASE_BACKUP (WAIT 0)")).options().waitForWalArchive());
    }

    @Test
    void onlyCommandKeywordsStartAReplicationCommand() {
        assertTrue(ReplicationCommandParser.isReplicationCommand("IDENTIFY_SYSTEM"));
        assertTrue(ReplicationCommandParser.isReplicationCommand(" SHOW x"));
        assertTrue(ReplicationCommandParser.isReplicationCommand("BASE_BACKUP (garbage"));
        assertFalse(ReplicationCommandParser.isReplicationCommand("show x"));
        assertFalse(ReplicationCommandParser.isReplicationCommand("SELECT 1"));
        assertFalse(ReplicationCommandParser.isReplicationCommand("TIMELINE 1"));
        assertFalse(ReplicationCommandParser.isReplicationCommand("'unterminated"));
        assertFalse(ReplicationCommandParser.isReplicationCommand(""));
    }

    /** Random garbage and mutilated commands: a command or a 42601, never anything else. */
    @Test
    void garbageIsASyntaxErrorNeverACrash() {
        Random rnd = new Random(42);
        String[] seeds = {"BASE_BACKUP (LABEL 'x', PROGRESS, MAX_RATE 100)", "START_REPLICATION SLOT s 0/1 TIMELINE 1",
            "CREATE_REPLICATION_SLOT s LOGICAL p (A 'b')", "SHOW a.b", "TIMELINE_HISTORY 1", "IDENTIFY_SYSTEM"};
        String alphabet = "ABCDEFIL_SHOWTM ()',;\"./0123456789abcxyz\t\né$\u0000\\";
        int parsed = 0;
        for (int round = 0; round < 20000; round++) {
            StringBuilder s = new StringBuilder(seeds[rnd.nextInt(seeds.length)]);
            int edits = 1 + rnd.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = rnd.nextInt(s.length() + 1);
                switch (rnd.nextInt(3)) {
                    case 0 -> s.insert(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
                    case 1 -> {
                        if (at < s.length()) {
                            s.deleteCharAt(at);
                        }
                    }
                    default -> s.setLength(Math.min(s.length(), at));
                }
            }
            try {
                parse(s.toString());
                parsed++;
            } catch (PgProtocolException e) {
                assertTrue(e.sqlState().equals("42601") || e.sqlState().equals("22003"), s + ": " + e);
            }
        }
        assertTrue(parsed > 0 && parsed < 20000, parsed + " of 20000 parsed");
    }
}
