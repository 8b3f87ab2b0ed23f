package org.pageserver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The command line without a server: help, usage errors and their exit status (CliIT runs the commands against one). */
class CliTest {
    record Run(int status, String out, String err) {
    }

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Cli.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void everySubcommandHasHelp() {
        // every subcommand the CLI declares, not a list kept by hand
        java.util.Set<String> commands = new picocli.CommandLine(new Cli()).getSubcommands().keySet();
        assertTrue(commands.containsAll(List.of("basebackup", "controlfile", "mount", "getpage", "status")), commands.toString());
        for (String c : commands) {
            Run r = cli(c, "--help");
            assertEquals(0, r.status(), c);
            assertTrue(r.out().contains("Usage: pageserver " + c), r.out());
        }
        assertTrue(cli("--help").out().contains("getpage"));
    }

    @Test
    void noCommandPrintsUsageWithStatus2() {
        Run r = cli();
        assertEquals(2, r.status());
        assertTrue(r.out().startsWith("Usage: pageserver"), r.out());
    }

    @Test
    void badUsageNamesTheProblemAndTheHelp() {
        Run unknown = cli("frobnicate");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("frobnicate") && unknown.err().contains("Try \"pageserver --help\""), unknown.err());

        Run badRel = cli("getpage", "--system-id", "1", "--rel", "1/2", "--blkno", "0", "--latest");
        assertEquals(2, badRel.status());
        assertTrue(badRel.err().contains("--rel must be SPC/DB/REL[/FORK]")
            && badRel.err().contains("Try \"pageserver getpage --help\""), badRel.err());

        Run noLsn = cli("nblocks", "--system-id", "1", "--rel", "1663/5/1259");
        assertEquals(2, noLsn.status());
        assertTrue(noLsn.err().contains("give --lsn X/Y, --latest, or both"), noLsn.err());

        Run badOid = cli("dbsize", "--system-id", "1", "--db", "4294967296", "--latest");
        assertEquals(2, badOid.status());
        assertTrue(badOid.err().contains("is not an oid"), badOid.err());

        Run badLsn = cli("exists", "--system-id", "1", "--rel", "pg_xact", "--lsn", "zz");
        assertEquals(2, badLsn.status());
        assertTrue(badLsn.err().contains("is not an LSN"), badLsn.err());

        Run missing = cli("getpage", "--rel", "pg_xact", "--blkno", "0", "--latest");
        assertEquals(2, missing.status());
        assertTrue(missing.err().contains("--system-id"), missing.err());
    }

    @Test
    void aServerThatIsNotThereIsStatus1() {
        Run r = cli("status", "--port", "1");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("error: "), r.err());
    }

    @Test
    void aServersErrorIsPrintedWithItsSeverityOnce() {
        assertEquals("error: LSN 0/10 is below the consistent point", Cli.errorLine("ERROR: LSN 0/10 is below the consistent point"));
        assertEquals("error: too many connections", Cli.errorLine("FATAL: too many connections"));
        assertEquals("error: Connection refused", Cli.errorLine("Connection refused"));
    }

    @Test
    void scramSecretNeedsNoServer() {
        Run r = cli("scram-secret", "pw");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("SCRAM-SHA-256$4096:"), r.out());
    }
}
