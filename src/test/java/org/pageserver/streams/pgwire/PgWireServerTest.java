package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CopyBothResponse;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.EmptyQueryResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.PgWriter;
import org.pageserver.protocol.pgwire.RawPgClient;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.protocol.pgwire.SqlState;

/**
 * The server over real TCP, driven by psql (/usr/bin/psql), pgjdbc (simple and extended query
 * modes) and raw sockets. One trust server and one SCRAM server (user alice, password
 * "wonderland") run for the whole class on free ports.
 */
class PgWireServerTest {

    static final ActorTestKit testKit = ActorTestKit.create();
    static final ToySessionHandler handler = new ToySessionHandler();
    static final ToySessionHandler scramHandler = new ToySessionHandler();
    static PgWireServer trust;
    static PgWireServer scram;

    @BeforeAll
    static void start() throws Exception {
        trust = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(), handler)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        scram = PgWireServer.start(testKit.system(), "127.0.0.1", 0,
                Authenticator.scram(Map.of("alice", Scram.Secret.build("wonderland"))), scramHandler)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    static int port() {
        return trust.localAddress().getPort();
    }

    static RawPgClient loggedIn() throws IOException {
        RawPgClient c = new RawPgClient("127.0.0.1", port());
        c.login(Map.of("user", "tester", "database", "db", "application_name", "raw"), null);
        return c;
    }

    // ------------------------------------------------------------------ psql

    record Proc(int exit, String out, String err) {
    }

    static Proc psql(int port, String user, String password, String sslmode, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/psql", "-X", "-A", "-t", "-w", "-h", "127.0.0.1", "-p",
                String.valueOf(port), "-U", user, "-d", "db"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("PGPASSWORD");
        if (password != null) {
            pb.environment().put("PGPASSWORD", password);
        }
        pb.environment().put("PGSSLMODE", sslmode);
        pb.environment().put("PGCONNECT_TIMEOUT", "10");
        pb.environment().put("PGPASSFILE", "/nonexistent");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "psql timed out");
        return new Proc(p.exitValue(), out.strip(), err.strip());
    }

    @Test
    void psqlRunsQueries() throws Exception {
        for (String sslmode : new String[] {"prefer", "disable", "allow"}) {
            Proc p = psql(port(), "tester", null, sslmode, "-c", "status");
            assertEquals(0, p.exit(), p.err());
            assertEquals("ok", p.out());
        }
        Proc one = psql(port(), "tester", null, "prefer", "-c", "select 1");
        assertEquals("1", one.out(), one.err());
        // several statements in one -c: all results are printed (psql 15)
        Proc multi = psql(port(), "tester", null, "prefer", "-c", "select 1; status");
        assertEquals("1\nok", multi.out(), multi.err());
        Proc types = psql(port(), "tester", null, "prefer", "-c", "types");
        assertEquals("-7|9000000000|héllo|t|\\x00ff|16/B374D848|", types.out(), types.err());
        Proc who = psql(port(), "tester", null, "prefer", "-c", "whoami");
        assertEquals("tester|db|psql", who.out(), who.err());
        // several -c: one Query each, same connection
        Proc two = psql(port(), "tester", null, "prefer", "-c", "select 1", "-c", "status");
        assertEquals("1\nok", two.out(), two.err());
    }

    @Test
    void psqlSeesErrorsAndTheSessionSurvives() throws Exception {
        Proc p = psql(port(), "tester", null, "prefer", "-c", "fail");
        assertEquals(1, p.exit());
        assertTrue(p.err().contains("ERROR:  no such thing"), p.err());
        assertTrue(p.err().contains("DETAIL:  detail here"), p.err());
        // without ON_ERROR_STOP psql goes on with the next -c on the same connection
        Proc q = psql(port(), "tester", null, "prefer", "-c", "throw", "-c", "select 1");
        assertTrue(q.err().contains("ERROR:  kaboom"), q.err());
        assertEquals("1", q.out());
        Proc nodb = psql(port(), "tester", null, "prefer", "-c", "select 1");
        assertEquals(0, nodb.exit());
    }

    @Test
    void psqlWithScram() throws Exception {
        int sp = scram.localAddress().getPort();
        Proc ok = psql(sp, "alice", "wonderland", "prefer", "-c", "whoami");
        assertEquals(0, ok.exit(), ok.err());
        assertEquals("alice|db|psql", ok.out());
        Proc wrong = psql(sp, "alice", "looking-glass", "prefer", "-c", "select 1");
        assertEquals(2, wrong.exit());
        assertTrue(wrong.err().contains("FATAL:  password authentication failed for user \"alice\""), wrong.err());
        Proc unknown = psql(sp, "bob", "wonderland", "prefer", "-c", "select 1");
        assertEquals(2, unknown.exit());
        assertTrue(unknown.err().contains("FATAL:  password authentication failed for user \"bob\""), unknown.err());
        Proc none = psql(sp, "alice", null, "disable", "-c", "select 1");
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("password"), none.err());
    }

    // ------------------------------------------------------------------ pgjdbc

    static Connection jdbc(int port, String user, String password, String mode) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("preferQueryMode", mode);
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "30");
        props.setProperty("sslmode", "disable");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/db", props);
    }

    void jdbcBasics(String mode) throws Exception {
        try (Connection c = jdbc(port(), "tester", null, mode); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("select 1")) {
                assertTrue(rs.next());
                assertEquals(1, rs.getInt(1));
                assertEquals("?column?", rs.getMetaData().getColumnName(1));
                assertFalse(rs.next());
            }
            try (ResultSet rs = st.executeQuery("types")) {
                assertTrue(rs.next());
                assertEquals(-7, rs.getInt("i4"));
                assertEquals(9_000_000_000L, rs.getLong("i8"));
                assertEquals("héllo", rs.getString("t"));
                assertTrue(rs.getBoolean("b"));
                assertArrayEquals(new byte[] {0, (byte) 0xFF}, rs.getBytes("ba"));
                assertEquals("16/B374D848", rs.getString("lsn"));
                assertNull(rs.getString("n"));
                assertTrue(rs.wasNull());
            }
            SQLException e = assertThrows(SQLException.class, () -> st.executeQuery("fail"));
            assertEquals("42704", e.getSQLState());
            assertTrue(e.getMessage().contains("no such thing"), e.getMessage());
            SQLException x = assertThrows(SQLException.class, () -> st.executeQuery("throw"));
            assertEquals("XX000", x.getSQLState());
            // still usable after errors
            try (ResultSet rs = st.executeQuery("status")) {
                assertTrue(rs.next());
                assertEquals("ok", rs.getString(1));
            }
            assertEquals(0, st.executeUpdate("set foo = 1"));
            try (ResultSet rs = st.executeQuery("many 2500")) {
                int n = 0;
                while (rs.next()) {
                    assertEquals(n, rs.getLong(1));
                    assertEquals("row " + n, rs.getString(2));
                    n++;
                }
                assertEquals(2500, n);
            }
        }
    }

    @Test
    void pgjdbcSimpleQueryMode() throws Exception {
        jdbcBasics("simple");
    }

    @Test
    void pgjdbcExtendedQueryMode() throws Exception {
        jdbcBasics("extended");
    }

    @Test
    void pgjdbcPreparedStatementsGoServerSideAndBinary() throws Exception {
        // prepareThreshold=1: named statements from the first execution, Describe of the
        // statement, then binary results for int4/int8/bool/bytea/text
        Properties props = new Properties();
        props.setProperty("user", "tester");
        props.setProperty("prepareThreshold", "1");
        props.setProperty("sslmode", "disable");
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port() + "/db", props)) {
            try (PreparedStatement ps = c.prepareStatement("types")) {
                for (int round = 0; round < 4; round++) {
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next());
                        assertEquals(-7, rs.getInt("i4"));
                        assertEquals(9_000_000_000L, rs.getLong("i8"));
                        assertEquals("héllo", rs.getString("t"));
                        assertTrue(rs.getBoolean("b"));
                        assertArrayEquals(new byte[] {0, (byte) 0xFF}, rs.getBytes("ba"));
                        assertNull(rs.getString("n"));
                    }
                }
            }
        }
    }

    @Test
    void pgjdbcFetchSizeUsesPortalSuspension() throws Exception {
        try (Connection c = jdbc(port(), "tester", null, "extended")) {
            c.setAutoCommit(false); // pgjdbc only fetches in batches inside a transaction (sends BEGIN)
            try (Statement st = c.createStatement()) {
                st.setFetchSize(100);
                try (ResultSet rs = st.executeQuery("many 1050")) {
                    int n = 0;
                    while (rs.next()) {
                        assertEquals(n++, rs.getInt(1));
                    }
                    assertEquals(1050, n);
                }
            }
            c.commit();
        }
    }

    @Test
    void pgjdbcWithScram() throws Exception {
        int sp = scram.localAddress().getPort();
        for (String mode : new String[] {"simple", "extended"}) {
            try (Connection c = jdbc(sp, "alice", "wonderland", mode); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("whoami")) {
                assertTrue(rs.next());
                assertEquals("alice", rs.getString(1));
            }
            SQLException e = assertThrows(SQLException.class, () -> jdbc(sp, "alice", "nope", mode));
            assertEquals("28P01", e.getSQLState());
            SQLException u = assertThrows(SQLException.class, () -> jdbc(sp, "mallory", "nope", mode));
            assertEquals("28P01", u.getSQLState());
        }
    }

    // ------------------------------------------------------------------ raw protocol

    @Test
    void startupReportsParametersAndKeyData() throws Exception {
        try (RawPgClient c = loggedIn()) {
            assertEquals("15.0 (pageserver)", c.parameterStatus.get("server_version"));
            assertEquals("UTF8", c.parameterStatus.get("server_encoding"));
            assertEquals("UTF8", c.parameterStatus.get("client_encoding"));
            assertTrue(c.parameterStatus.get("DateStyle").startsWith("ISO"));
            assertEquals("on", c.parameterStatus.get("integer_datetimes"));
            assertEquals("on", c.parameterStatus.get("standard_conforming_strings"));
            assertEquals("raw", c.parameterStatus.get("application_name"));
            assertTrue(c.keyData.processId() > 0);
        }
    }

    @Test
    void sslAndGssRequestsAreDeclined() throws Exception {
        try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
            c.send(new FrontendMessage.SSLRequest());
            assertEquals('N', c.readByte());
            c.send(new FrontendMessage.GSSENCRequest());
            assertEquals('N', c.readByte());
            c.login(Map.of("user", "tester"), null);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void emptyAndMultiStatementQueries() throws Exception {
        try (RawPgClient c = loggedIn()) {
            List<BackendMessage> empty = c.query("");
            assertInstanceOf(EmptyQueryResponse.class, empty.get(0));
            assertInstanceOf(ReadyForQuery.class, empty.get(1));
            assertInstanceOf(EmptyQueryResponse.class, c.query(" ;; -- nothing\n").get(0));

            int before = handler.queries.size();
            List<BackendMessage> m = c.query("select 1; status; fail; select 1");
            assertInstanceOf(RowDescription.class, m.get(0));
            assertEquals("1", ((DataRow) m.get(1)).text(0));
            assertEquals("SELECT 1", ((CommandComplete) m.get(2)).tag());
            assertInstanceOf(RowDescription.class, m.get(3));
            assertEquals("ok", ((DataRow) m.get(4)).text(0));
            assertInstanceOf(CommandComplete.class, m.get(5));
            ErrorResponse e = (ErrorResponse) m.get(6);
            assertEquals("42704", e.sqlState());
            assertEquals("ERROR", e.severity());
            assertEquals("detail here", e.detail());
            assertInstanceOf(ReadyForQuery.class, m.get(7));
            assertEquals(8, m.size());
            // the statement after the error did not run
            List<String> all = handler.queriesSnapshot();
            assertEquals(List.of("select 1", "status", "fail"), all.subList(before, all.size()));
        }
    }

    @Test
    void handlerFailuresBecomeErrorsAndTheConnectionStaysUsable() throws Exception {
        try (RawPgClient c = loggedIn()) {
            String[][] cases = {
                {"throw", "XX000", "kaboom"},
                {"failed future", "XX000", "async kaboom"},
                {"sqlstate future", "22023", "bad parameter"},
                {"null", "XX000", "PgSession.query returned null"},
            };
            for (String[] k : cases) {
                List<BackendMessage> r = c.query(k[0]);
                ErrorResponse e = assertInstanceOf(ErrorResponse.class, r.get(0), k[0]);
                assertEquals(k[1], e.sqlState(), k[0]);
                assertEquals(k[2], e.message(), k[0]);
                assertInstanceOf(ReadyForQuery.class, r.get(1));
                assertInstanceOf(DataRow.class, c.query("select 1").get(1));
            }
            assertEquals("SLOW", ((CommandComplete) c.query("slow").get(0)).tag());
        }
    }

    @Test
    void terminateClosesCleanlyAndClosesTheSession() throws Exception {
        int closedBefore = handler.closed.get();
        try (RawPgClient c = loggedIn()) {
            c.send(new FrontendMessage.Terminate());
            assertNull(c.read()); // clean EOF, no error message
        }
        awaitTrue(() -> handler.closed.get() > closedBefore);
    }

    @Test
    void sessionOpenFailuresAreFatal() throws Exception {
        try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
            RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                    () -> c.login(Map.of("user", "u", "database", "nodb"), null));
            assertEquals("3D000", e.error.sqlState());
            assertEquals("FATAL", e.error.severity());
            assertTrue(c.isClosedByServer());
        }
        try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
            RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                    () -> c.login(Map.of("user", "u", "database", "crash"), null));
            assertEquals("XX000", e.error.sqlState());
        }
        try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
            RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                    () -> c.login(Map.of("database", "db"), null));
            assertEquals("28000", e.error.sqlState());
        }
    }

    // ------------------------------------------------------------------ garbage

    static byte[] frame(char type, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) type).putInt(4 + body.length).put(body).array();
    }

    static byte[] withLength(char type, int len) {
        return ByteBuffer.allocate(5).put((byte) type).putInt(len).array();
    }

    /** For every message type a malformed frame: the connection gets FATAL and closes; others live on. */
    @Test
    void malformedFramesCloseOnlyTheirConnection() throws Exception {
        Object[][] cases = {
            {"Query without NUL", frame('Q', "select 1".getBytes()), "08P01"},
            {"Query length 3", withLength('Q', 3), "08P01"},
            {"Query length -1", withLength('Q', -1), "08P01"},
            {"Query over 1 MB", withLength('Q', 2 << 20), "08P01"},
            {"Query of 1 GB", withLength('Q', 1 << 30), "08P01"},
            {"Sync past 10,000 bytes", withLength('S', 10001), "08P01"},
            {"Execute past 10,000 bytes", withLength('E', 10001), "08P01"},
            {"CopyDone past 10,000 bytes", withLength('c', 10001), "08P01"},
            {"Terminate with a body", frame('X', new byte[] {1}), "08P01"},
            {"CopyData length 2", withLength('d', 2), "08P01"},
            {"CopyDone with a body", frame('c', new byte[] {1}), "08P01"},
            {"CopyFail without NUL", frame('f', "oops".getBytes()), "08P01"},
            {"password message when idle", frame('p', "pw\0".getBytes()), "08P01"},
            {"Sync with a body", frame('S', new byte[] {0}), "08P01"},
            {"Flush with a body", frame('H', new byte[] {0}), "08P01"},
            {"Parse truncated", frame('P', "s\0select 1\0".getBytes()), "08P01"},
            {"Bind truncated", frame('B', "\0\0\0".getBytes()), "08P01"},
            {"Describe bad kind", frame('D', "X\0".getBytes()), "08P01"},
            {"Execute truncated", frame('E', "\0\0\0".getBytes()), "08P01"},
            {"Close bad kind", frame('C', "Q\0".getBytes()), "08P01"},
            {"unknown type z", frame('z', new byte[0]), "08P01"},
            {"type byte 0", frame('\0', new byte[0]), "08P01"},
            {"FunctionCall", frame('F', new byte[4]), "0A000"},
            {"invalid UTF-8", frame('Q', new byte[] {(byte) 0xC3, 0x28, 0}), "22021"},
        };
        try (RawPgClient bystander = loggedIn()) {
            for (Object[] k : cases) {
                try (RawPgClient c = loggedIn()) {
                    c.sendRaw((byte[]) k[1]);
                    ErrorResponse e = assertInstanceOf(ErrorResponse.class, c.expect(), (String) k[0]);
                    assertEquals(k[2], e.sqlState(), k[0] + ": " + e.message());
                    assertEquals("FATAL", e.severity());
                    assertTrue(c.isClosedByServer(), (String) k[0]);
                }
                assertInstanceOf(DataRow.class, bystander.query("select 1").get(1), (String) k[0]);
            }
        }
    }

    @Test
    void garbageBeforeStartup() throws Exception {
        Object[][] cases = {
            {"HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(), "08P01"},
            {"Query before startup", new FrontendMessage.Query("select 1").toBytes(), "08P01"},
            {"length 4", new byte[] {0, 0, 0, 4}, "08P01"},
            {"startup packet past 10,000 bytes", ByteBuffer.allocate(4).putInt(10001).array(), "08P01"},
            {"protocol 2.0", new byte[] {0, 0, 0, 9, 0, 2, 0, 0, 0}, "0A000"},
            {"no terminator", new byte[] {0, 0, 0, 12, 0, 3, 0, 0, 'u', 0, 'x', 0}, "08P01"},
            {"startup after startup", null, "08P01"},
        };
        for (Object[] k : cases) {
            try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
                if (k[1] == null) {
                    c.login(Map.of("user", "u"), null);
                    c.send(new FrontendMessage.StartupMessage(Map.of("user", "u"))); // untyped now is garbage
                } else {
                    c.sendRaw((byte[]) k[1]);
                }
                ErrorResponse e = assertInstanceOf(ErrorResponse.class, c.expect(), (String) k[0]);
                assertEquals(k[2], e.sqlState(), k[0] + ": " + e.message());
                assertTrue(c.isClosedByServer(), (String) k[0]);
            }
        }
        try (RawPgClient ok = loggedIn()) {
            assertInstanceOf(DataRow.class, ok.query("select 1").get(1));
        }
    }

    @Test
    void newerProtocolMinorIsNegotiatedDown() throws Exception {
        try (RawPgClient c = new RawPgClient("127.0.0.1", port())) {
            c.send(new FrontendMessage.StartupMessage((3 << 16) | 2, Map.of("user", "u", "_pq_.x", "1")));
            BackendMessage.NegotiateProtocolVersion v = c.expect(BackendMessage.NegotiateProtocolVersion.class);
            assertEquals(0, v.newestMinorVersion());
            assertEquals(List.of("_pq_.x"), v.unrecognizedOptions());
            c.expect(BackendMessage.AuthenticationOk.class);
            c.readUntilReady();
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    // ------------------------------------------------------------------ SCRAM, raw

    @Test
    void scramRawClient() throws Exception {
        int sp = scram.localAddress().getPort();
        try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
            c.login(Map.of("user", "alice"), "wonderland");
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
        for (String[] k : new String[][] {{"alice", "x"}, {"nobody", "wonderland"}}) {
            try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
                RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                        () -> c.login(Map.of("user", k[0]), k[1]));
                assertEquals("28P01", e.error.sqlState());
                assertEquals("password authentication failed for user \"" + k[0] + "\"", e.error.message());
                assertTrue(c.isClosedByServer());
            }
        }
        // a wrong mechanism, and garbage instead of SCRAM
        try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
            c.send(new FrontendMessage.StartupMessage(Map.of("user", "alice")));
            c.expect(BackendMessage.AuthenticationSASL.class);
            c.send(new FrontendMessage.SASLInitialResponse("SCRAM-SHA-1", "n,,n=,r=abc".getBytes()));
            assertEquals("08P01", c.expect(ErrorResponse.class).sqlState());
            assertTrue(c.isClosedByServer());
        }
        try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
            c.send(new FrontendMessage.StartupMessage(Map.of("user", "alice")));
            c.expect(BackendMessage.AuthenticationSASL.class);
            c.send(new FrontendMessage.SASLInitialResponse("SCRAM-SHA-256", "garbage".getBytes()));
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("08P01", e.sqlState());
            assertTrue(e.message().startsWith("malformed SCRAM message"), e.message());
        }
        try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
            c.send(new FrontendMessage.StartupMessage(Map.of("user", "alice")));
            c.expect(BackendMessage.AuthenticationSASL.class);
            c.send(new FrontendMessage.Query("select 1"));
            assertEquals("08P01", c.expect(ErrorResponse.class).sqlState());
        }
    }

    /** Wrong passwords and unknown users fail alike (28P01, the same words) and are counted; a success is not. */
    @Test
    void passwordFailuresAreCounted() throws Exception {
        int sp = scram.localAddress().getPort();
        long before = scram.passwordFailures();
        List<String> messages = new ArrayList<>();
        for (String[] k : new String[][] {{"alice", "wrong"}, {"nobody", "wonderland"}}) {
            try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
                RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                        () -> c.login(Map.of("user", k[0]), k[1]));
                assertEquals("28P01", e.error.sqlState());
                messages.add(e.error.message().replace(k[0], "<user>"));
            }
        }
        assertEquals(messages.get(0), messages.get(1));
        try (RawPgClient c = new RawPgClient("127.0.0.1", sp)) {
            c.login(Map.of("user", "alice"), "wonderland");
        }
        assertEquals(before + 2, scram.passwordFailures());
    }

    /** A SASL message past PG_MAX_AUTH_TOKEN_LENGTH is refused from its header, while authenticating. */
    @Test
    void saslMessagePastTheAuthTokenLengthIsRefused() throws Exception {
        try (RawPgClient c = new RawPgClient("127.0.0.1", scram.localAddress().getPort())) {
            c.send(new FrontendMessage.StartupMessage(Map.of("user", "alice")));
            c.expect(BackendMessage.AuthenticationSASL.class);
            c.sendRaw(withLength('p', 65536)); // its header only: the answer cannot wait for the body
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("08P01", e.sqlState(), e.message());
            assertTrue(e.message().contains("during authentication"), e.message());
            assertTrue(c.isClosedByServer());
        }
    }

    /** A CopyData past what the copy takes (QueryResult.CopyBoth.maxCopyData) ends the connection unread. */
    @Test
    void copyDataPastTheCopysBoundIsRefused() throws Exception {
        try (RawPgClient bystander = loggedIn(); RawPgClient c = loggedIn()) {
            c.send(new FrontendMessage.Query("echo16"));
            c.expect(CopyBothResponse.class);
            c.send(new CopyData(new byte[16]));
            assertEquals(16, c.expect(CopyData.class).data().length);
            c.sendRaw(withLength('d', 4 + 17));
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("08P01", e.sqlState(), e.message());
            assertEquals("FATAL", e.severity());
            assertTrue(c.isClosedByServer());
            assertInstanceOf(DataRow.class, bystander.query("select 1").get(1));
        }
    }

    /** The configured maximum bounds a Query; one at the bound is run. */
    @Test
    void maxMessageSizeBoundsAQuery() throws Exception {
        PgWireServer s = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(),
                new ToySessionHandler(), PgWireServer.Settings.DEFAULTS.withMaxMessageSize(4096))
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        int p = s.localAddress().getPort();
        try (RawPgClient c = new RawPgClient("127.0.0.1", p)) {
            c.login(Map.of("user", "a"), null);
            String atBound = "select 1" + " ".repeat(4096 - "select 1".length() - 1); // and its NUL
            assertInstanceOf(DataRow.class, c.query(atBound).get(1));
            c.sendRaw(withLength('Q', 4 + 4097));
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("08P01", e.sqlState(), e.message());
            assertTrue(c.isClosedByServer());
        } finally {
            s.shutdown().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    // ------------------------------------------------------------------ copy-both

    @Test
    void copyBothEcho() throws Exception {
        try (RawPgClient c = loggedIn()) {
            c.send(new FrontendMessage.Query("echo"));
            c.expect(CopyBothResponse.class);
            for (String s : new String[] {"a", "bb", "", "dddd"}) {
                c.send(new CopyData(s.getBytes()));
                assertEquals(s, new String(c.expect(CopyData.class).data()));
            }
            // several at once
            PgWriter w = new PgWriter();
            for (int i = 0; i < 100; i++) {
                new CopyData(("m" + i).getBytes()).write(w);
            }
            c.sendRaw(w.toByteArray());
            for (int i = 0; i < 100; i++) {
                assertEquals("m" + i, new String(c.expect(CopyData.class).data()));
            }
            c.send(new CopyDone());
            c.expect(CopyDone.class);
            assertEquals("ECHO", c.expect(CommandComplete.class).tag());
            c.expect(ReadyForQuery.class);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void copyBothServerEndsFirst() throws Exception {
        try (RawPgClient c = loggedIn()) {
            c.send(new FrontendMessage.Query("take2"));
            c.expect(CopyBothResponse.class);
            c.send(new CopyData("1".getBytes()), new CopyData("2".getBytes()), new CopyData("3".getBytes()));
            assertEquals("1", new String(c.expect(CopyData.class).data()));
            assertEquals("2", new String(c.expect(CopyData.class).data()));
            c.expect(CopyDone.class);
            // more client data is dropped until the client's CopyDone
            c.send(new CopyData("4".getBytes()));
            c.send(new CopyDone());
            assertEquals("TAKE2", c.expect(CommandComplete.class).tag());
            c.expect(ReadyForQuery.class);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void copyBothClientFailsAndFlowFails() throws Exception {
        try (RawPgClient c = loggedIn()) {
            c.send(new FrontendMessage.Query("echo"));
            c.expect(CopyBothResponse.class);
            c.send(new CopyData("x".getBytes()));
            c.expect(CopyData.class);
            c.send(new FrontendMessage.CopyFail("client changed its mind"));
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("57014", e.sqlState());
            assertEquals("COPY from stdin failed: client changed its mind", e.message());
            c.expect(ReadyForQuery.class);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));

            c.send(new FrontendMessage.Query("failing flow"));
            c.expect(CopyBothResponse.class);
            c.send(new CopyData("ok".getBytes()));
            c.expect(CopyData.class);
            c.send(new CopyData("boom".getBytes()));
            ErrorResponse f = c.expect(ErrorResponse.class);
            assertEquals("XX000", f.sqlState());
            assertEquals("flow exploded", f.message());
            c.expect(ReadyForQuery.class);
            // the client, still in copy mode, sends more; it is ignored as PostgreSQL does
            c.send(new CopyData("late".getBytes()), new CopyDone());
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    /** A client that stops reading must stop the server from producing (TCP backpressure end to end). */
    @Test
    void clientThatDoesNotReadStopsTheProducer() throws Exception {
        try (RawPgClient c = loggedIn()) {
            c.socket().setReceiveBufferSize(64 * 1024);
            long before = handler.produced.get();
            c.send(new FrontendMessage.Query("infinite"));
            Thread.sleep(1500);
            long a = handler.produced.get() - before;
            Thread.sleep(1000);
            long b = handler.produced.get() - before;
            System.out.println("backpressure: produced " + a + " elements of 8 KiB while the client did not read");
            assertEquals(a, b, "producer kept going while nobody read");
            // 8 KiB elements: bounded by socket buffers plus a few stream buffers, far below 64 MiB
            assertTrue(a * 8192 < 64L << 20, "produced " + a + " elements");
            // reading resumes production
            for (int i = 0; i < 2000; i++) {
                c.expect();
            }
            assertTrue(handler.produced.get() - before > b);
        }
    }

    // ------------------------------------------------------------------ cancel, limits, shutdown

    @Test
    void cancelRequestInterruptsARunningStatement() throws Exception {
        try (RawPgClient c = loggedIn()) {
            int cancelledBefore = handler.cancelled.get();
            c.send(new FrontendMessage.Query("hang"));
            // wrong secret: nothing happens
            try (RawPgClient k = new RawPgClient("127.0.0.1", port())) {
                k.send(new FrontendMessage.CancelRequest(c.keyData.processId(), c.keyData.secretKey() + 1));
                assertNull(k.read());
            }
            try (RawPgClient k = new RawPgClient("127.0.0.1", port())) {
                k.send(new FrontendMessage.CancelRequest(c.keyData.processId(), c.keyData.secretKey()));
                assertNull(k.read()); // closed without an answer, as the postmaster does
            }
            ErrorResponse e = c.expect(ErrorResponse.class);
            assertEquals("57014", e.sqlState());
            assertEquals("canceling statement due to user request", e.message());
            c.expect(ReadyForQuery.class);
            assertEquals(cancelledBefore + 1, handler.cancelled.get());
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void tooManyConnections() throws Exception {
        ToySessionHandler h = new ToySessionHandler();
        PgWireServer small = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(), h,
                PgWireServer.Settings.DEFAULTS.withMaxConnections(2)).toCompletableFuture().get(10, TimeUnit.SECONDS);
        try (RawPgClient a = new RawPgClient("127.0.0.1", small.localAddress().getPort());
             RawPgClient b = new RawPgClient("127.0.0.1", small.localAddress().getPort())) {
            a.login(Map.of("user", "a"), null);
            b.login(Map.of("user", "b"), null);
            try (RawPgClient c = new RawPgClient("127.0.0.1", small.localAddress().getPort())) {
                RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                        () -> c.login(Map.of("user", "c"), null));
                assertEquals("53300", e.error.sqlState());
                assertEquals("too many connections", e.error.message());
                assertTrue(c.isClosedByServer());
            }
            assertInstanceOf(DataRow.class, b.query("select 1").get(1));
            a.send(new FrontendMessage.Terminate());
            assertNull(a.read());
            awaitTrue(() -> small.openConnections() < 2);
            try (RawPgClient d = new RawPgClient("127.0.0.1", small.localAddress().getPort())) {
                d.login(Map.of("user", "d"), null);
            }
        } finally {
            small.shutdown().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void authenticationTimeout() throws Exception {
        ToySessionHandler h = new ToySessionHandler();
        PgWireServer s = PgWireServer.start(testKit.system(), "127.0.0.1", 0,
                Authenticator.scram(Map.of("alice", Scram.Secret.build("pw"))), h,
                PgWireServer.Settings.DEFAULTS.withAuthenticationTimeout(java.time.Duration.ofMillis(700)))
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        int p = s.localAddress().getPort();
        try (RawPgClient silent = new RawPgClient("127.0.0.1", p);
             RawPgClient halfway = new RawPgClient("127.0.0.1", p);
             RawPgClient stuck = new RawPgClient("127.0.0.1", p);
             RawPgClient good = new RawPgClient("127.0.0.1", p)) {
            byte[] startup = new FrontendMessage.StartupMessage(Map.of("user", "alice")).toBytes();
            halfway.sendRaw(java.util.Arrays.copyOf(startup, startup.length / 2)); // and never the rest
            stuck.send(new FrontendMessage.StartupMessage(Map.of("user", "alice")));
            stuck.expect(BackendMessage.AuthenticationSASL.class); // and then never answers
            good.login(Map.of("user", "alice"), "pw");
            for (RawPgClient c : new RawPgClient[] {silent, halfway, stuck}) {
                ErrorResponse e = c.expect(ErrorResponse.class);
                assertEquals("57014", e.sqlState());
                assertEquals("canceling authentication due to timeout", e.message());
                assertTrue(c.isClosedByServer());
            }
            Thread.sleep(300);
            assertInstanceOf(DataRow.class, good.query("select 1").get(1));
        } finally {
            s.shutdown().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void shutdownTerminatesSessionsAndUnbinds() throws Exception {
        ToySessionHandler h = new ToySessionHandler();
        PgWireServer s = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(), h)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        int p = s.localAddress().getPort();
        try (RawPgClient a = new RawPgClient("127.0.0.1", p)) {
            a.login(Map.of("user", "a"), null);
            s.shutdown().toCompletableFuture().get(10, TimeUnit.SECONDS);
            ErrorResponse e = a.expect(ErrorResponse.class);
            assertEquals("57P01", e.sqlState());
            assertEquals("FATAL", e.severity());
            assertTrue(a.isClosedByServer());
        }
        assertThrows(IOException.class, () -> new RawPgClient("127.0.0.1", p).close());
        assertEquals(1, h.closed.get());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void awaitTrue(Check c) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!c.ok()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 10 s");
            }
            Thread.sleep(20);
        }
    }
}
