package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.cli.Cli;

/** The CLI subcommands of the jar against a real tenant: what they print and their exit status. */
class CliIT {
    @TempDir
    Path tmp;

    record Run(int status, String out, String err) {
    }

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Cli.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void everySubcommandAgainstARealTenant() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            pg.pgbench("-i", "-s", "1", "-q");
            pg.psql("checkpoint");
            try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
                String port = String.valueOf(ps.port());
                Run call = cli("callmemaybe", pg.conninfo(), "--port", port);
                assertEquals(0, call.status(), call.err());
                String systemId = call.out().split("\n")[1].trim();
                Run status = cli("status", "--port", port);
                assertEquals(0, status.status());
                assertTrue(status.out().startsWith("system_id|state|last_valid_lsn|last_record_lsn|durable_lsn|consistent_lsn|primary"),
                    status.out());
                assertTrue(status.out().contains(systemId + "|streaming|"), status.out());

                String[] r = pg.psql("select pg_relation_filenode('pgbench_branches'), (select oid from pg_database"
                    + " where datname = 'postgres')").split("\\|");
                String rel = "1663/" + r[1] + "/" + r[0];
                Path out = tmp.resolve("page.bin");
                Run get = cli("getpage", "--port", port, "--system-id", systemId, "--rel", rel, "--blkno", "0", "--latest",
                    "--out", out.toString());
                assertEquals(0, get.status(), get.err());
                byte[] file = new byte[8192];
                try (var f = new java.io.RandomAccessFile(pg.dataDir().resolve("base/" + r[1] + "/" + r[0]).toFile(), "r")) {
                    f.readFully(file);
                }
                assertArrayEquals(file, Files.readAllBytes(out));
                Run hex = cli("getpage", "--port", port, "--system-id", systemId, "--rel", rel, "--blkno", "0", "--latest");
                assertEquals(512, hex.out().split("\n").length, "16 bytes a line");
                assertEquals("1", cli("nblocks", "--port", port, "--system-id", systemId, "--rel", rel, "--latest").out().trim());
                assertEquals("true", cli("exists", "--port", port, "--system-id", systemId, "--rel", rel, "--latest").out().trim());
                assertEquals("false", cli("exists", "--port", port, "--system-id", systemId, "--rel", rel + "/init",
                    "--latest").out().trim());
                assertTrue(Long.parseLong(cli("dbsize", "--port", port, "--system-id", systemId, "--db", r[1], "--latest")
                    .out().trim()) > 8192 * 100);

                // an SLRU by its directory name: pg_xact is the pseudo-relation 0/0/1
                pg.psql("checkpoint");
                Path clog = tmp.resolve("clog.bin");
                Run slru = cli("getpage", "--port", port, "--system-id", systemId, "--rel", "pg_xact", "--blkno", "0",
                    "--lsn", pg.flushLsn().toString(), "--latest", "--out", clog.toString());
                assertEquals(0, slru.status(), slru.err());
                assertArrayEquals(Files.readAllBytes(pg.dataDir().resolve("pg_xact/0000")), Files.readAllBytes(clog));
                assertEquals("1", cli("nblocks", "--port", port, "--system-id", systemId, "--rel", "0/0/1", "--latest")
                    .out().trim());
                assertEquals("false", cli("exists", "--port", port, "--system-id", systemId, "--rel", "pg_commit_ts",
                    "--latest").out().trim(), "track_commit_timestamp is off");

                // errors: the server's message and status 1; bad usage: status 2
                Run missing = cli("getpage", "--port", port, "--system-id", systemId, "--rel", rel, "--blkno", "99999",
                    "--latest");
                assertEquals(1, missing.status());
                assertTrue(missing.err().contains("does not exist"), missing.err());
                assertEquals(2, cli("getpage", "--port", port, "--system-id", systemId, "--rel", "1/2", "--blkno", "0",
                    "--latest").status());
                assertEquals(2, cli("getpage", "--port", port, "--system-id", systemId, "--rel", rel, "--blkno", "0").status());
                assertEquals(2, cli("frobnicate").status());
                assertTrue(cli("scram-secret", "pw").out().startsWith("SCRAM-SHA-256$4096:"));
            }
        }
    }
}
