package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.testkit.TestPublisher;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.stream.testkit.javadsl.TestSource;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.BackendMessage.BindComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CopyOutResponse;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.NoData;
import org.pageserver.protocol.pgwire.BackendMessage.ParseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.Describe;
import org.pageserver.protocol.pgwire.FrontendMessage.Execute;
import org.pageserver.protocol.pgwire.FrontendMessage.Parse;
import org.pageserver.protocol.pgwire.FrontendMessage.Sync;
import org.pageserver.protocol.pgwire.RawPgClient;
import org.postgresql.PGConnection;

/** COPY OUT results ({@link QueryResult.CopyOut}) and sequences of parts ({@link QueryResult.Sequence}). */
class CopyOutTest {

    static final ActorTestKit testKit = ActorTestKit.create();
    static final ToySessionHandler handler = new ToySessionHandler();
    static PgWireServer server;

    /** 3200 elements of 64 kB. */
    static final long BIG = 3200L * 65536;

    @BeforeAll
    static void start() throws Exception {
        server = PgWireServer.start(testKit.system(), "127.0.0.1", 0, Authenticator.trust(), handler)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    static int port() {
        return server.localAddress().getPort();
    }

    static RawPgClient client() throws Exception {
        RawPgClient c = new RawPgClient("127.0.0.1", port());
        c.login(Map.of("user", "x"), null);
        return c;
    }

    /** Reads CopyData until CopyDone; returns the payloads joined. */
    static byte[] readCopy(RawPgClient c, int maxPayload) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        while (true) {
            BackendMessage m = c.expect();
            if (m instanceof CopyDone) {
                return all.toByteArray();
            }
            byte[] d = assertInstanceOf(CopyData.class, m).data();
            assertTrue(d.length <= maxPayload, "CopyData of " + d.length + " bytes");
            all.write(d);
        }
    }

    /**
     * A client that reads one chunk at a time through 200 MB: the server never holds more than
     * a couple of elements beyond what the client has read.
     */
    @Test
    void slowReaderBoundsWhatTheServerProducesAhead() {
        Pair<TestPublisher.Probe<ByteString>, TestSubscriber.Probe<ByteString>> p =
                TestSource.<ByteString>create(testKit.system())
                        .via(PgWireServer.connectionFlow(Authenticator.trust(), handler, PgWireServer.Settings.DEFAULTS,
                                new InetSocketAddress("10.0.0.1", 5555)))
                        .toMat(TestSink.create(testKit.system()), Keep.both()).run(testKit.system());
        PgServerStageTest.Reader r = new PgServerStageTest.Reader(p.second());
        p.first().sendNext(PgServerStageTest.bytes(new FrontendMessage.StartupMessage(Map.of("user", "u"))));
        r.untilReady();
        long before = handler.copyOutProduced.get();
        p.first().sendNext(PgServerStageTest.bytes(new FrontendMessage.Query("copy out 3200 65536")));
        assertInstanceOf(CopyOutResponse.class, r.next());
        long received = 0;
        long maxAhead = 0;
        BackendMessage m;
        while ((m = r.next()) instanceof CopyData d) {
            received += d.data().length;
            maxAhead = Math.max(maxAhead, handler.copyOutProduced.get() - before - received);
        }
        assertInstanceOf(CopyDone.class, m);
        assertEquals(BIG, received);
        System.out.println("copy out, chunk-by-chunk reader: at most " + maxAhead + " bytes produced ahead of " + BIG);
        assertTrue(maxAhead <= 2 * 65536, "the server produced " + maxAhead + " bytes ahead of the reader");
        assertEquals("COPY 3200", ((CommandComplete) r.next()).tag());
        assertInstanceOf(ReadyForQuery.class, r.next());
    }

    @Test
    void bytesArriveInOrderInBoundedCopyData() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new FrontendMessage.Query("copy out 5 200000"));
            CopyOutResponse h = c.expect(CopyOutResponse.class);
            assertEquals(0, h.overallFormat());
            assertEquals(0, h.columnFormats().length);
            byte[] all = readCopy(c, 64 * 1024);
            assertEquals(5 * 200000, all.length);
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(ToySessionHandler.element(i, 200000).toArray(),
                        java.util.Arrays.copyOfRange(all, i * 200000, (i + 1) * 200000), "element " + i);
            }
            assertEquals("COPY 5", c.expect(CommandComplete.class).tag());
            c.expect(ReadyForQuery.class);
        }
    }

    @Test
    void sourceFailureEndsTheCopyWithAnErrorAndTheConnectionLivesOn() throws Exception {
        try (RawPgClient c = client()) {
            for (String[] k : new String[][] {{"copy out fail", "XX000", "source exploded"},
                                              {"copy out fail 22023", "22023", "source failed with 22023"}}) {
                c.send(new FrontendMessage.Query(k[0]));
                c.expect(CopyOutResponse.class);
                assertEquals("a", new String(c.expect(CopyData.class).data()));
                assertEquals("b", new String(c.expect(CopyData.class).data()));
                ErrorResponse e = c.expect(ErrorResponse.class);
                assertEquals(k[1], e.sqlState());
                assertEquals(k[2], e.message());
                assertEquals("ERROR", e.severity());
                c.expect(ReadyForQuery.class);
                assertInstanceOf(DataRow.class, c.query("select 1").get(1));
            }
        }
    }

    @Test
    void cancelRequestStopsAnEndlessCopy() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new FrontendMessage.Query("copy out forever"));
            c.expect(CopyOutResponse.class);
            for (int i = 0; i < 10; i++) {
                c.expect(CopyData.class);
            }
            try (RawPgClient k = new RawPgClient("127.0.0.1", port())) {
                k.send(new FrontendMessage.CancelRequest(c.keyData.processId(), c.keyData.secretKey()));
            }
            BackendMessage m;
            while ((m = c.expect()) instanceof CopyData) {
                // what was on its way before the cancel
            }
            ErrorResponse e = assertInstanceOf(ErrorResponse.class, m);
            assertEquals("57014", e.sqlState());
            c.expect(ReadyForQuery.class);
            assertInstanceOf(DataRow.class, c.query("select 1").get(1));
        }
    }

    /** As PostgreSQL 15's BASE_BACKUP: a result set, a COPY OUT, a result set, the command's tag. */
    @Test
    void sequenceSendsItsPartsInOrder() throws Exception {
        try (RawPgClient c = client()) {
            List<BackendMessage> r = c.query("backup");
            assertEquals("recptr", ((RowDescription) r.get(0)).fields().get(0).name());
            assertEquals("0/2000028", ((DataRow) r.get(1)).text(0));
            assertEquals("SELECT", ((CommandComplete) r.get(2)).tag());
            assertInstanceOf(CopyOutResponse.class, r.get(3));
            assertEquals("tar ", new String(((CopyData) r.get(4)).data()));
            assertEquals("bytes\n", new String(((CopyData) r.get(5)).data()));
            assertInstanceOf(CopyDone.class, r.get(6));
            assertInstanceOf(RowDescription.class, r.get(7));
            assertEquals("0/2000100", ((DataRow) r.get(8)).text(0));
            assertEquals("SELECT", ((CommandComplete) r.get(9)).tag());
            assertEquals("BASE_BACKUP", ((CommandComplete) r.get(10)).tag());
            assertInstanceOf(ReadyForQuery.class, r.get(11));
            assertEquals(12, r.size());
        }
    }

    @Test
    void copyOutThroughExecute() throws Exception {
        try (RawPgClient c = client()) {
            c.send(new Parse("", "copy out lines 2", new int[0]),
                    new FrontendMessage.Bind("", "", new short[0], List.of(), new short[0]),
                    new Describe(Describe.PORTAL, ""), new Execute("", 0), new Execute("", 0), new Sync());
            c.expect(ParseComplete.class);
            c.expect(BindComplete.class);
            c.expect(NoData.class);
            c.expect(CopyOutResponse.class);
            assertEquals("line 1\nline 2\n", new String(readCopy(c, 64 * 1024)));
            assertEquals("COPY 2", c.expect(CommandComplete.class).tag());
            // its data went out once: the portal cannot run again
            assertEquals("55000", c.expect(ErrorResponse.class).sqlState());
            c.expect(ReadyForQuery.class);
        }
    }

    /** pgjdbc's CopyManager reads 200 MB; the server never runs far ahead of what it has written. */
    @Test
    void pgjdbcCopyManagerReadsWithBoundedLead() throws Exception {
        try (Connection conn = PgWireServerTest.jdbc(port(), "tester", null, "simple")) {
            long before = handler.copyOutProduced.get();
            long[] written = {0, 0};
            OutputStream sink = new OutputStream() {
                @Override
                public void write(int b) {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    written[0] += len;
                    written[1] = Math.max(written[1], handler.copyOutProduced.get() - before - written[0]);
                }
            };
            long n = conn.unwrap(PGConnection.class).getCopyAPI().copyOut("copy out 3200 65536", sink);
            assertEquals(3200, n);
            assertEquals(BIG, written[0]);
            System.out.println("copy out, pgjdbc over TCP: at most " + written[1] + " bytes produced ahead of " + BIG);
            // socket buffers on both sides and one element in the server: far below the 200 MB
            assertTrue(written[1] < 32L << 20, "the server produced " + written[1] + " bytes ahead of the client");
        }
    }

    @Test
    void psqlPrintsCopyOutData() throws Exception {
        PgWireServerTest.Proc p = PgWireServerTest.psql(port(), "tester", null, "disable", "-c", "copy out lines 3");
        assertEquals(0, p.exit(), p.err());
        assertEquals("line 1\nline 2\nline 3", p.out());
    }

    /**
     * libpq keeps in step through every part of a sequence up to ReadyForQuery. psql prints the
     * first result set, the copy data and the command's tag; its handleCopyOut takes the result
     * after CopyDone for the COPY's own status (here the last result set, which it drops and
     * calls a failed COPY: exit 1), as it would with PostgreSQL's own BASE_BACKUP.
     */
    @Test
    void psqlKeepsInStepThroughASequence() throws Exception {
        PgWireServerTest.Proc p = PgWireServerTest.psql(port(), "tester", null, "disable", "-c", "backup");
        assertEquals("0/2000028|1\ntar bytes\nBASE_BACKUP", p.out(), p.err());
    }
}
