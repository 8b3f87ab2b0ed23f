package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.BackendMessage.BindComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CloseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.EmptyQueryResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.NoData;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterDescription;
import org.pageserver.protocol.pgwire.BackendMessage.ParseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.PortalSuspended;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage.Bind;
import org.pageserver.protocol.pgwire.FrontendMessage.Close;
import org.pageserver.protocol.pgwire.FrontendMessage.Describe;
import org.pageserver.protocol.pgwire.FrontendMessage.Execute;
import org.pageserver.protocol.pgwire.FrontendMessage.Parse;
import org.pageserver.protocol.pgwire.FrontendMessage.Sync;
import org.pageserver.protocol.pgwire.PgType;
import org.pageserver.protocol.pgwire.RawPgClient;

/** The extended query protocol (no parameters) message by message over TCP. */
class ExtendedQueryTest {

    static final ActorTestKit testKit = ActorTestKit.create();
    static final ToySessionHandler handler = new ToySessionHandler();
    static PgWireServer server;

    @BeforeAll
    static void start() throws Exception {
        server = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(), handler)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    static RawPgClient client() throws Exception {
        RawPgClient c = new RawPgClient("127.0.0.1", server.localAddress().getPort());
        c.login(Map.of("user", "x"), null);
        return c;
    }

    static Bind bind(String portal, String stmt, short... resultFormats) {
        return new Bind(portal, stmt, new short[0], List.of(), resultFormats);
    }

    @Test
    void unnamedParseBindDescribeExecuteSync() throws Exception {
        try (RawPgClient c = client()) {
            int before = handler.queries.size();
            c.send(new Parse("", "select 1", new int[0]), bind("", ""), new Describe(Describe.PORTAL, ""),
                    new Execute("", 0), new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertInstanceOf(ParseComplete.class, r.get(0));
            assertInstanceOf(BindComplete.class, r.get(1));
            RowDescription d = assertInstanceOf(RowDescription.class, r.get(2));
            assertEquals(PgType.INT4, d.fields().get(0).typeOid());
            assertEquals("1", ((DataRow) r.get(3)).text(0));
            assertEquals("SELECT 1", ((CommandComplete) r.get(4)).tag());
            assertEquals(6, r.size());
            // Describe ran the statement; Execute used that result instead of running it again
            assertEquals(List.of("select 1"), handler.queriesSnapshot().subList(before, handler.queries.size()));
        }
    }

    @Test
    void describeStatementRunsOnceAndExecuteUsesThatResult() throws Exception {
        try (RawPgClient c = client()) {
            int before = handler.queries.size();
            c.send(new Parse("s1", "status", new int[0]), new Describe(Describe.STATEMENT, "s1"), bind("", "s1"),
                    new Execute("", 0), new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertInstanceOf(ParseComplete.class, r.get(0));
            assertEquals(0, assertInstanceOf(ParameterDescription.class, r.get(1)).typeOids().length);
            assertInstanceOf(RowDescription.class, r.get(2));
            assertInstanceOf(BindComplete.class, r.get(3));
            assertEquals("ok", ((DataRow) r.get(4)).text(0));
            assertInstanceOf(CommandComplete.class, r.get(5));
            assertEquals(1, handler.queries.size() - before, "the statement ran once");
            // the named statement stays; executing it again runs it again
            c.send(bind("", "s1"), new Execute("", 0), new Sync());
            List<BackendMessage> again = c.readUntilReady();
            assertEquals("ok", ((DataRow) again.get(1)).text(0));
            assertEquals(2, handler.queries.size() - before);
            // a command has no row description
            c.send(new Parse("", "set x = 1", new int[0]), new Describe(Describe.STATEMENT, ""), bind("", ""),
                    new Describe(Describe.PORTAL, ""), new Execute("", 0), new Sync());
            List<BackendMessage> cmd = c.readUntilReady();
            assertInstanceOf(NoData.class, cmd.get(2));
            assertInstanceOf(NoData.class, cmd.get(4));
            assertEquals("SET", ((CommandComplete) cmd.get(5)).tag());
        }
    }

    @Test
    void executeWithRowLimitSuspendsThePortal() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new Parse("", "many 5", new int[0]), bind("p", ""), new Execute("p", 2), new Execute("p", 2),
                    new Execute("p", 2), new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertInstanceOf(ParseComplete.class, r.get(0));
            assertInstanceOf(BindComplete.class, r.get(1));
            assertEquals("0", ((DataRow) r.get(2)).text(0));
            assertEquals("1", ((DataRow) r.get(3)).text(0));
            assertInstanceOf(PortalSuspended.class, r.get(4));
            assertEquals("2", ((DataRow) r.get(5)).text(0));
            assertEquals("3", ((DataRow) r.get(6)).text(0));
            assertInstanceOf(PortalSuspended.class, r.get(7));
            assertEquals("4", ((DataRow) r.get(8)).text(0));
            assertEquals("SELECT 5", ((CommandComplete) r.get(9)).tag());
            // the portal is gone after Sync
            c.send(new Execute("p", 0), new Sync());
            List<BackendMessage> gone = c.readUntilReady();
            assertEquals("34000", ((ErrorResponse) gone.get(0)).sqlState());
        }
    }

    @Test
    void errorsSkipToSync() throws Exception {
        try (RawPgClient c = client()) {
            int before = handler.queries.size();
            c.send(new Parse("", "fail", new int[0]), bind("", ""), new Execute("", 0),
                    new Parse("", "select 1", new int[0]), bind("", ""), new Execute("", 0), new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertInstanceOf(ParseComplete.class, r.get(0));
            assertInstanceOf(BindComplete.class, r.get(1));
            assertEquals("42704", ((ErrorResponse) r.get(2)).sqlState());
            assertInstanceOf(ReadyForQuery.class, r.get(3));
            assertEquals(List.of("fail"), handler.queriesSnapshot().subList(before, handler.queries.size()));
            // usable afterwards
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void refusedRequests() throws Exception {
        try (RawPgClient c = client()) {
            Object[][] cases = {
                {new Object[] {bind("", "nope")}, "26000"},
                {new Object[] {new Parse("", "select 1; select 2", new int[0])}, "42601"},
                {new Object[] {new Parse("", "select 1", new int[0]),
                    new Bind("", "", new short[0], List.of(new byte[] {'1'}), new short[0])}, "0A000"},
                {new Object[] {new Describe(Describe.PORTAL, "nope")}, "34000"},
                {new Object[] {new Execute("nope", 0)}, "34000"},
                {new Object[] {new Parse("", "whoami", new int[0]), bind("", "", (short) 0, (short) 0),
                    new Execute("", 0)}, "08P01"},                                 // 2 formats, 3 columns
                {new Object[] {new Parse("", "numeric", new int[0]), bind("", "", (short) 1),
                    new Execute("", 0)}, "0A000"},                                 // no binary numeric here
            };
            for (Object[] k : cases) {
                Object[] msgs = (Object[]) k[0];
                org.pageserver.protocol.pgwire.PgMessage[] all = new org.pageserver.protocol.pgwire.PgMessage[msgs.length + 1];
                for (int i = 0; i < msgs.length; i++) {
                    all[i] = (org.pageserver.protocol.pgwire.PgMessage) msgs[i];
                }
                all[msgs.length] = new Sync();
                c.send(all);
                List<BackendMessage> r = c.readUntilReady();
                ErrorResponse e = (ErrorResponse) r.stream().filter(m -> m instanceof ErrorResponse).findFirst()
                        .orElseThrow(() -> new AssertionError("no error for " + k[1] + ": " + r));
                assertEquals(k[1], e.sqlState(), e.message());
                assertEquals("ERROR", e.severity());
            }
            c.send(new Parse("dup", "select 1", new int[0]), new Parse("dup", "select 1", new int[0]), new Sync());
            List<BackendMessage> dup = c.readUntilReady();
            assertEquals("42P05", ((ErrorResponse) dup.get(1)).sqlState());
        }
    }

    @Test
    void emptyQueryAndClose() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new Parse("e", "  ", new int[0]), new Describe(Describe.STATEMENT, "e"), bind("", "e"),
                    new Execute("", 0), new Close(Describe.STATEMENT, "e"), new Close(Describe.PORTAL, ""),
                    new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertInstanceOf(ParseComplete.class, r.get(0));
            assertInstanceOf(ParameterDescription.class, r.get(1));
            assertInstanceOf(NoData.class, r.get(2));
            assertInstanceOf(BindComplete.class, r.get(3));
            assertInstanceOf(EmptyQueryResponse.class, r.get(4));
            assertInstanceOf(CloseComplete.class, r.get(5));
            assertInstanceOf(CloseComplete.class, r.get(6));
            c.send(bind("", "e"), new Sync());
            assertEquals("26000", ((ErrorResponse) c.readUntilReady().get(0)).sqlState());
        }
    }

    @Test
    void binaryResults() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new Parse("", "select 1", new int[0]), bind("", "", (short) 1), new Describe(Describe.PORTAL, ""),
                    new Execute("", 0), new Sync());
            List<BackendMessage> r = c.readUntilReady();
            assertEquals(1, ((RowDescription) r.get(2)).fields().get(0).format());
            assertArrayEquals(new byte[] {0, 0, 0, 1}, ((DataRow) r.get(3)).values().get(0));
            // per-column formats: int4 binary, int8 binary, text text, bool binary, bytea binary,
            // pg_lsn binary, null text
            c.send(new Parse("", "types", new int[0]), bind("", "", (short) 1, (short) 1, (short) 0, (short) 1,
                    (short) 1, (short) 1, (short) 0), new Execute("", 0), new Sync());
            DataRow row = (DataRow) c.readUntilReady().get(2);
            assertArrayEquals(new byte[] {-1, -1, -1, -7}, row.values().get(0));
            assertArrayEquals(new byte[] {0, 0, 0, 2, 0x18, 0x71, 0x1A, 0x00}, row.values().get(1));
            assertEquals("héllo", row.text(2));
            assertArrayEquals(new byte[] {1}, row.values().get(3));
            assertArrayEquals(new byte[] {0, (byte) 0xFF}, row.values().get(4));
            assertArrayEquals(new byte[] {0, 0, 0, 0x16, (byte) 0xB3, 0x74, (byte) 0xD8, 0x48}, row.values().get(5));
            assertNull(row.values().get(6));
        }
    }

    @Test
    void copyBothThroughExecute() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new Parse("", "echo", new int[0]), bind("", ""), new Execute("", 0), new Sync());
            c.expect(ParseComplete.class);
            c.expect(BindComplete.class);
            c.expect(BackendMessage.CopyBothResponse.class);
            c.send(new CopyData("hi".getBytes()));
            assertEquals("hi", new String(c.expect(CopyData.class).data()));
            // libpq sends CopyDone and then Sync for a COPY started by Execute
            c.send(new CopyDone(), new Sync());
            c.expect(CopyDone.class);
            assertEquals("ECHO", c.expect(CommandComplete.class).tag());
            c.expect(ReadyForQuery.class);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    @Test
    void transactionStatusFollowsBeginAndCommit() throws Exception {
        try (RawPgClient c = client()) {
            assertEquals('T', ((ReadyForQuery) c.query("begin").get(1)).status());
            assertEquals('T', ((ReadyForQuery) c.query("select 1").get(3)).status());
            assertEquals('I', ((ReadyForQuery) c.query("commit").get(1)).status());
        }
    }
}
