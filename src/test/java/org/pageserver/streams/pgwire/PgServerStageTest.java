package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.testkit.TestPublisher;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.stream.testkit.javadsl.TestSource;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.PgWriter;

/** The per-connection stage on its own, between stream testkit probes (no TCP). */
class PgServerStageTest {

    static final ActorTestKit testKit = ActorTestKit.create();

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    final ToySessionHandler handler = new ToySessionHandler();

    Flow<ByteString, ByteString, ?> flow() {
        return PgWireServer.connectionFlow(Authenticator.trust(), handler, PgWireServer.Settings.DEFAULTS,
                new InetSocketAddress("10.0.0.1", 5555));
    }

    static ByteString bytes(PgMessage... ms) {
        PgWriter w = new PgWriter();
        for (PgMessage m : ms) {
            m.write(w);
        }
        return ByteString.fromArrayUnsafe(w.toByteArray());
    }

    /** Reads backend messages from a TestSubscriber, requesting one ByteString at a time. */
    static final class Reader {
        final TestSubscriber.Probe<ByteString> sub;
        final PgFrameDecoder decoder = PgFrameDecoder.forClient(1 << 26);
        final List<Integer> chunkSizes = new ArrayList<>();

        Reader(TestSubscriber.Probe<ByteString> sub) {
            this.sub = sub;
        }

        BackendMessage next() {
            while (true) {
                PgFrame f = decoder.next();
                if (f != null) {
                    return BackendMessage.parse(f);
                }
                ByteString b = sub.requestNext(Duration.ofSeconds(10));
                chunkSizes.add(b.size());
                decoder.feed(b.toArray());
            }
        }

        List<BackendMessage> untilReady() {
            List<BackendMessage> out = new ArrayList<>();
            while (true) {
                BackendMessage m = next();
                out.add(m);
                if (m instanceof ReadyForQuery) {
                    return out;
                }
            }
        }
    }

    @Test
    void loginAndQueryThroughProbes() {
        Pair<TestPublisher.Probe<ByteString>, TestSubscriber.Probe<ByteString>> p =
                TestSource.<ByteString>create(testKit.system()).via(flow())
                        .toMat(TestSink.create(testKit.system()), Keep.both()).run(testKit.system());
        TestPublisher.Probe<ByteString> pub = p.first();
        Reader r = new Reader(p.second());
        pub.sendNext(bytes(new FrontendMessage.StartupMessage(Map.of("user", "u", "application_name", "probe"))));
        List<BackendMessage> hello = r.untilReady();
        assertInstanceOf(BackendMessage.AuthenticationOk.class, hello.get(0));
        assertEquals(new InetSocketAddress("10.0.0.1", 5555), handler.opened.get(0).remoteAddress());
        assertEquals("probe", handler.opened.get(0).applicationName());

        pub.sendNext(bytes(new FrontendMessage.Query("select 1")));
        List<BackendMessage> res = r.untilReady();
        assertInstanceOf(RowDescription.class, res.get(0));
        assertEquals("1", ((DataRow) res.get(1)).text(0));

        // pipelined queries in one chunk, and a query cut into single bytes
        pub.sendNext(bytes(new FrontendMessage.Query("status"), new FrontendMessage.Query("select 1")));
        assertEquals("ok", ((DataRow) r.untilReady().get(1)).text(0));
        assertEquals("1", ((DataRow) r.untilReady().get(1)).text(0));
        for (byte b : bytes(new FrontendMessage.Query("status")).toArray()) {
            pub.sendNext(ByteString.fromArray(new byte[] {b}));
        }
        assertEquals("ok", ((DataRow) r.untilReady().get(1)).text(0));

        pub.sendNext(bytes(new FrontendMessage.Terminate()));
        p.second().request(1);
        p.second().expectComplete();
        assertEquals(1, handler.closed.get());
    }

    @Test
    void rowsAreSentInBoundedChunksAsTheClientReads() {
        Pair<TestPublisher.Probe<ByteString>, TestSubscriber.Probe<ByteString>> p =
                TestSource.<ByteString>create(testKit.system()).via(flow())
                        .toMat(TestSink.create(testKit.system()), Keep.both()).run(testKit.system());
        Reader r = new Reader(p.second());
        p.first().sendNext(bytes(new FrontendMessage.StartupMessage(Map.of("user", "u"))));
        r.untilReady();
        r.chunkSizes.clear();
        p.first().sendNext(bytes(new FrontendMessage.Query("many 100000")));
        List<BackendMessage> res = r.untilReady();
        assertEquals(100000 + 3, res.size());
        assertEquals("SELECT 100000", ((CommandComplete) res.get(res.size() - 2)).tag());
        assertTrue(r.chunkSizes.size() > 20, "rows went out in " + r.chunkSizes.size() + " chunks");
        for (int size : r.chunkSizes) {
            assertTrue(size < 80 * 1024, "chunk of " + size + " bytes");
        }
    }

    /**
     * A copy flow whose output nobody reads: the stage stops pulling client bytes after a bounded
     * number of CopyData frames, and resumes when the reader does.
     */
    @Test
    void copyBothBackpressuresTheClient() {
        AtomicLong pulled = new AtomicLong();
        ByteString login = bytes(new FrontendMessage.StartupMessage(Map.of("user", "u")),
                new FrontendMessage.Query("delayed echo"));
        ByteString copyData = bytes(new CopyData(new byte[1024]));
        Iterator<ByteString> input = new Iterator<>() {
            boolean first = true;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public ByteString next() {
                if (first) {
                    first = false;
                    return login;
                }
                pulled.incrementAndGet();
                return copyData;
            }
        };
        TestSubscriber.Probe<ByteString> sub = Source.fromIterator(() -> input).via(flow())
                .runWith(TestSink.create(testKit.system()), testKit.system());
        Reader r = new Reader(sub);
        r.untilReady();
        assertInstanceOf(BackendMessage.CopyBothResponse.class, r.next());
        for (int i = 0; i < 10; i++) {
            assertInstanceOf(CopyData.class, r.next());
        }
        // now stop reading
        sub.expectNoMessage(Duration.ofMillis(1500));
        long a = pulled.get();
        sub.expectNoMessage(Duration.ofMillis(500));
        assertEquals(a, pulled.get(), "input kept being pulled while nobody read the output");
        assertTrue(a < 64, "pulled " + a + " CopyData frames");
        for (int i = 0; i < 200; i++) {
            assertInstanceOf(CopyData.class, r.next());
        }
        assertTrue(pulled.get() > a);
        sub.cancel();
    }

    @Test
    void clientGoingAwayMidStatementClosesTheSession() throws Exception {
        Pair<TestPublisher.Probe<ByteString>, TestSubscriber.Probe<ByteString>> p =
                TestSource.<ByteString>create(testKit.system()).via(flow())
                        .toMat(TestSink.create(testKit.system()), Keep.both()).run(testKit.system());
        Reader r = new Reader(p.second());
        p.first().sendNext(bytes(new FrontendMessage.StartupMessage(Map.of("user", "u"))));
        r.untilReady();
        p.first().sendNext(bytes(new FrontendMessage.Query("hang")));
        p.first().sendComplete();
        p.second().request(1);
        p.second().expectComplete();
        PgWireServerTest.awaitTrue(() -> handler.closed.get() == 1);
    }

    @Test
    void copyFlowSeesClientPayloadsInOrder() {
        Pair<TestPublisher.Probe<ByteString>, TestSubscriber.Probe<ByteString>> p =
                TestSource.<ByteString>create(testKit.system()).via(flow())
                        .toMat(TestSink.create(testKit.system()), Keep.both()).run(testKit.system());
        Reader r = new Reader(p.second());
        p.first().sendNext(bytes(new FrontendMessage.StartupMessage(Map.of("user", "u")),
                new FrontendMessage.Query("echo")));
        r.untilReady();
        assertInstanceOf(BackendMessage.CopyBothResponse.class, r.next());
        PgWriter w = new PgWriter();
        for (int i = 0; i < 1000; i++) {
            new CopyData(Integer.toString(i).getBytes()).write(w);
        }
        new org.pageserver.protocol.pgwire.CopyDone().write(w);
        byte[] all = w.toByteArray();
        // deliver in odd-sized slices that cut frames anywhere
        for (int off = 0; off < all.length; off += 777) {
            p.first().sendNext(ByteString.fromArray(all, off, Math.min(777, all.length - off)));
        }
        for (int i = 0; i < 1000; i++) {
            assertEquals(Integer.toString(i), new String(((CopyData) r.next()).data()));
        }
        assertInstanceOf(org.pageserver.protocol.pgwire.CopyDone.class, r.next());
        assertEquals("ECHO", ((CommandComplete) r.next()).tag());
        assertInstanceOf(ReadyForQuery.class, r.next());
    }
}
