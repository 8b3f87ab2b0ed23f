package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.redo.mask.BufMask;

/**
 * {@code detach <system_id> [delete]} against a real primary: without delete the data stays and
 * a later callmemaybe resumes streaming where it stopped (also not re-attached by a restart);
 * with delete the directory and the slot on the primary are gone; a detached tenant is unknown
 * to GetPage; the HTTP API's DELETE does the same.
 */
class DetachIT {
    @TempDir
    Path tmp;
    static PgCluster pg;

    @BeforeAll
    static void setUp() throws Exception {
        // autovacuum off: nothing but the test touches the table, so the pages compare exactly
        pg = PgCluster.builder().set("autovacuum", "off").start();
        pg.psql("create table t(id int, v text)");
        pg.psql("insert into t select g, repeat('x', 100) from generate_series(1, 5000) g");
    }

    @AfterAll
    static void tearDown() {
        if (pg != null) {
            pg.close();
        }
    }

    static Connection connect(TestPageServer ps) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("preferQueryMode", "simple");
        return DriverManager.getConnection(ps.url(), p);
    }

    static String slots() throws Exception {
        return pg.psql("select string_agg(slot_name, ',') from pg_replication_slots");
    }

    static RelTag table() throws Exception {
        String[] r = pg.psql("select (select oid from pg_database where datname = current_database()),"
            + " pg_relation_filenode('t')").split("\\|");
        return new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
    }

    /** After a CHECKPOINT on the primary, every block of t read at the latest LSN equals its file (masked). */
    static int assertPagesEqual(TestPageServer ps, SystemId id) throws Exception {
        pg.psql("checkpoint");
        ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
        RelTag rel = table();
        Path file = pg.dataDir().resolve(rel.path());
        int n = (int) (Files.size(file) / 8192);
        try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id);
             var f = new java.io.RandomAccessFile(file.toFile(), "r")) {
            assertEquals(n, c.nblocks(rel, new Lsn(1), true));
            for (int b = 0; b < n; b++) {
                byte[] mine = new byte[8192];
                f.seek((long) b * 8192);
                f.readFully(mine);
                byte[] theirs = c.getPage(rel, b, new Lsn(1), true);
                // under heap_mask: the delete's scan set hint bits on the primary, which no WAL carries
                assertArrayEquals(BufMask.mask(RmgrId.RM_HEAP_ID, mine, b), BufMask.mask(RmgrId.RM_HEAP_ID, theirs, b),
                    "block " + b);
            }
        }
        return n;
    }

    @Test
    void detachKeepsTheDataAndCallmemaybeResumesStreamingWithEqualPages() throws Exception {
        try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));

            assertEquals(id + "|kept|kept", ps.psql("detach " + id));
            assertEquals("", ps.psql("status"));
            assertFalse(Files.exists(ps.dataDir().resolve("tenants").resolve(id.toString())));
            assertTrue(Files.isDirectory(ps.dataDir().resolve("detached").resolve(id.toString())));
            assertTrue(slots().contains("pageserver_" + id), "the slot stays: " + slots());

            // the primary goes on meanwhile; the slot keeps its WAL for the re-attached tenant
            pg.psql("insert into t select g, repeat('y', 100) from generate_series(1, 3000) g");
            pg.psql("delete from t where id % 7 = 0");
            assertEquals(id.toString(), ps.psql("callmemaybe " + pg.conninfo()));
            assertTrue(Files.isDirectory(ps.dataDir().resolve("tenants").resolve(id.toString())));
            assertTrue(assertPagesEqual(ps, id) > 100);
            assertTrue(ps.psql("status").contains("|streaming|"), ps.psql("status"));
            assertEquals(id + "|deleted|dropped", ps.psql("detach " + id + " delete"));
        }
    }

    @Test
    void aTenantDetachedWithItsDataDoesNotComeBackAtRestart() throws Exception {
        Path dir = tmp.resolve("ps");
        SystemId id;
        try (TestPageServer ps = TestPageServer.start(dir)) {
            id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            assertEquals(id + "|kept|kept", ps.psql("detach " + id));
        }
        try (TestPageServer ps = TestPageServer.start(dir)) {
            assertEquals("", ps.psql("status"));
            assertTrue(Files.isDirectory(dir.resolve("detached").resolve(id.toString())));
            assertEquals(id.toString(), ps.psql("callmemaybe " + pg.conninfo()));
            assertEquals(id + "|deleted|dropped", ps.psql("detach " + id + " delete"));
        }
    }

    @Test
    void detachDeleteRemovesTheDirectoryAndTheSlotOnThePrimary() throws Exception {
        try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            Path dir = ps.dataDir().resolve("tenants").resolve(id.toString());
            assertTrue(Files.isDirectory(dir));
            assertTrue(slots().contains("pageserver_" + id), slots());

            assertEquals(id + "|deleted|dropped", ps.psql("detach " + id + " delete"));
            assertFalse(Files.exists(dir));
            assertFalse(Files.exists(ps.dataDir().resolve("detached").resolve(id.toString())));
            assertFalse(Files.exists(ps.dataDir().resolve("deleting").resolve(id.toString())));
            assertFalse(slots().contains("pageserver_" + id), "slots left: " + slots());
            assertEquals("", ps.psql("status"));
        }
    }

    @Test
    void aDetachedTenantIsUnknownToGetPageAndToDetach() throws Exception {
        try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            ps.psql("detach " + id + " delete");
            SQLException page = assertThrows(SQLException.class, () -> PageClient.connect(ps.url(), "postgres", null, id));
            assertEquals("42704", page.getSQLState(), page.getMessage());
            try (Connection c = connect(ps); Statement s = c.createStatement()) {
                SQLException again = assertThrows(SQLException.class, () -> s.execute("detach " + id));
                assertEquals("42704", again.getSQLState());
                assertTrue(again.getMessage().contains("unknown system_id " + id), again.getMessage());
                SQLException bad = assertThrows(SQLException.class, () -> s.execute("detach " + id + " now"));
                assertEquals("42601", bad.getSQLState());
            }
        }
    }

    @Test
    void httpDeleteDetachesAndDeletes() throws Exception {
        try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            HttpResponse<String> r = HttpApiIT.send(ps, "DELETE", "/v1/tenant/" + id, null, null, null);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode body = new ObjectMapper().readTree(r.body());
            assertEquals(id.toString(), body.get("system_id").asText());
            assertTrue(body.get("deleted").asBoolean());
            assertEquals("dropped", body.get("slot").asText());
            assertFalse(Files.exists(ps.dataDir().resolve("tenants").resolve(id.toString())));
            assertFalse(slots().contains("pageserver_" + id), slots());
            assertEquals(404, HttpApiIT.send(ps, "DELETE", "/v1/tenant/" + id, null, null, null).statusCode());
        }
    }
}
