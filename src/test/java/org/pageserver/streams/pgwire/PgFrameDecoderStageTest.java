package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.time.Duration;
import java.util.List;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;

class PgFrameDecoderStageTest {

    static final ActorTestKit testKit = ActorTestKit.create();

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    static ByteString bytes(byte[]... parts) {
        ByteString b = ByteString.emptyByteString();
        for (byte[] p : parts) {
            b = b.concat(ByteString.fromArray(p));
        }
        return b;
    }

    @Test
    void framesOutOfArbitrarySlices() throws Exception {
        ByteString all = bytes(new BackendMessage.ReadyForQuery((byte) 'I').toBytes(),
                new CopyData(new byte[3000]).toBytes(), new BackendMessage.CommandComplete("X").toBytes());
        List<ByteString> slices = new java.util.ArrayList<>();
        for (int i = 0; i < all.size(); i += 7) {
            slices.add(all.slice(i, Math.min(all.size(), i + 7)));
        }
        List<PgFrame> frames = Source.from(slices).via(PgFrameDecoderStage.client(1 << 20))
                .runWith(Sink.seq(), testKit.system()).toCompletableFuture().get();
        assertEquals(3, frames.size());
        assertEquals('Z', frames.get(0).type());
        assertEquals(3000, frames.get(1).body().length);
        assertInstanceOf(BackendMessage.CommandComplete.class, BackendMessage.parse(frames.get(2)));
    }

    @Test
    void pullsOnlyWhenAFrameIsWanted() {
        // a fused iterator source (no buffer in between) counts how often the stage pulls
        java.util.concurrent.atomic.AtomicInteger pulled = new java.util.concurrent.atomic.AtomicInteger();
        ByteString two = bytes(new CopyData(new byte[] {1}).toBytes(), new CopyData(new byte[] {2}).toBytes());
        java.util.Iterator<ByteString> counting = new java.util.Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public ByteString next() {
                pulled.incrementAndGet();
                return two;
            }
        };
        TestSubscriber.Probe<PgFrame> sub = Source.fromIterator(() -> counting).via(PgFrameDecoderStage.client(1 << 20)).runWith(TestSink.create(testKit.system()),
                testKit.system());
        sub.request(1);
        assertEquals(1, sub.expectNext().body()[0]);
        sub.expectNoMessage(Duration.ofMillis(200));
        assertEquals(1, pulled.get());
        sub.request(1);
        assertEquals(2, sub.expectNext().body()[0]); // from the buffer, no pull
        sub.expectNoMessage(Duration.ofMillis(200));
        assertEquals(1, pulled.get());
        sub.request(1);
        assertEquals(1, sub.expectNext().body()[0]);
        assertEquals(2, pulled.get());
        sub.cancel();
    }

    @Test
    void errorsFailTheStream() {
        TestSubscriber.Probe<PgFrame> bad = Source.single(ByteString.fromArray(new byte[] {'d', 0, 0, 0, 1}))
                .via(PgFrameDecoderStage.client(1 << 20)).runWith(TestSink.create(testKit.system()), testKit.system());
        bad.request(1);
        PgProtocolException e = assertInstanceOf(PgProtocolException.class, bad.expectError());
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());

        TestSubscriber.Probe<PgFrame> big = Source.single(ByteString.fromArray(new byte[] {'d', 0, 0, 1, 0}))
                .via(PgFrameDecoderStage.client(100)).runWith(TestSink.create(testKit.system()), testKit.system());
        big.request(1);
        assertEquals(SqlState.PROTOCOL_VIOLATION, ((PgProtocolException) big.expectError()).sqlState());

        TestSubscriber.Probe<PgFrame> cut = Source.single(ByteString.fromArray(new byte[] {'d', 0, 0, 0, 9, 1}))
                .via(PgFrameDecoderStage.client(100)).runWith(TestSink.create(testKit.system()), testKit.system());
        cut.request(1);
        assertEquals(SqlState.CONNECTION_FAILURE, ((PgProtocolException) cut.expectError()).sqlState());
    }

    @Test
    void serverModeStartsWithTheStartupPacket() throws Exception {
        ByteString in = bytes(new org.pageserver.protocol.pgwire.FrontendMessage.SSLRequest().toBytes(),
                new org.pageserver.protocol.pgwire.FrontendMessage.StartupMessage(java.util.Map.of("user", "u"))
                        .toBytes(),
                new org.pageserver.protocol.pgwire.FrontendMessage.Sync().toBytes());
        List<PgFrame> frames = Source.single(in).via(PgFrameDecoderStage.server(1 << 20))
                .runWith(Sink.seq(), testKit.system()).toCompletableFuture().get();
        assertEquals(3, frames.size());
        assertEquals(PgFrame.UNTYPED, frames.get(0).type());
        assertEquals(PgFrame.UNTYPED, frames.get(1).type());
        assertEquals('S', frames.get(2).type());
    }
}
