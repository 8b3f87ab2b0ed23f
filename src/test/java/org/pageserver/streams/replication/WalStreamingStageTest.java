package org.pageserver.streams.replication;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.ClosedShape;
import org.apache.pekko.stream.FanOutShape2;
import org.apache.pekko.stream.javadsl.GraphDSL;
import org.apache.pekko.stream.javadsl.RunnableGraph;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.testkit.TestPublisher;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.stream.testkit.javadsl.TestSource;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.replication.ReplicationMessage;

/**
 * The streaming half of the WAL receiver on the bytes a walsender sends, cut in odd slices:
 * the WAL comes out whole and in order, status updates go back, and whatever ends the stream
 * comes after every chunk received before it.
 */
class WalStreamingStageTest {
    static final ActorTestKit testKit = ActorTestKit.create();
    static final Duration INTERVAL = Duration.ofSeconds(30);

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    record Probes(TestPublisher.Probe<ByteString> primary, TestSubscriber.Probe<WalChunk> chunks,
                  TestSubscriber.Probe<ByteString> toPrimary) {
    }

    static Probes run(WalFeedback feedback) {
        return run(feedback, INTERVAL, Duration.ofSeconds(60));
    }

    static Probes run(WalFeedback feedback, Duration statusInterval, Duration receiveTimeout) {
        var statuses = TestSink.<ByteString>probe(testKit.system().classicSystem()).preMaterialize(testKit.system());
        var graph = GraphDSL.create(TestSource.<ByteString>probe(testKit.system().classicSystem()),
            TestSink.<WalChunk>probe(testKit.system().classicSystem()),
            (a, b) -> new Probes(a, b, statuses.first()),
            (builder, src, chunkSink) -> {
                FanOutShape2<ByteString, WalChunk, ByteString> stage = builder.add(new WalStreamingStage(
                    PgFrameDecoder.forClient(ReplicationConnection.MAX_MESSAGE), "primary:5432", feedback, statusInterval,
                    receiveTimeout));
                builder.from(src).toInlet(stage.in());
                builder.from(stage.out0()).to(chunkSink);
                builder.from(stage.out1()).to(builder.add(statuses.second()));
                return ClosedShape.getInstance();
            });
        return RunnableGraph.fromGraph(graph).run(testKit.system());
    }

    static byte[] xlogData(long start, byte[] wal) {
        return new CopyData(ReplicationMessage.XLogData.toBytes(new Lsn(start), new Lsn(start + wal.length), 0, wal, 0,
            wal.length)).toBytes();
    }

    static byte[] wal(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    static List<ByteString> slices(int size, byte[]... messages) {
        ByteString all = ByteString.emptyByteString();
        for (byte[] m : messages) {
            all = all.concat(ByteString.fromArray(m));
        }
        List<ByteString> out = new ArrayList<>();
        for (int i = 0; i < all.size(); i += size) {
            out.add(all.slice(i, Math.min(all.size(), i + size)));
        }
        return out;
    }

    /** The StandbyStatusUpdate inside a CopyData the stage sent. */
    static ReplicationMessage.StandbyStatusUpdate status(ByteString sent) {
        ByteBuffer b = sent.asByteBuffer();
        assertEquals('d', b.get());
        b.getInt();
        assertEquals('r', b.get());
        return new ReplicationMessage.StandbyStatusUpdate(new Lsn(b.getLong()), new Lsn(b.getLong()),
            new Lsn(b.getLong()), b.getLong(), b.get() != 0);
    }

    @Test
    void xlogDataInOddSlicesComesOutWholeAndInOrder() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        byte[] first = wal(8192, 1);
        byte[] second = wal(131072, 2);
        p.chunks().request(2);
        for (ByteString s : slices(7777, xlogData(0x1000, first), xlogData(0x3000, second))) {
            p.primary().sendNext(s);
        }
        WalChunk a = p.chunks().expectNext();
        WalChunk b = p.chunks().expectNext();
        assertEquals(new Lsn(0x1000), a.start());
        assertArrayEquals(first, a.data());
        assertEquals(new Lsn(0x3000), b.start());
        assertArrayEquals(second, b.data());
    }

    @Test
    void theConnectionIsReadOnlyAsChunksAreTaken() {
        // a fused iterator in the socket's place (no buffer in between) counts the reads
        AtomicInteger reads = new AtomicInteger();
        ByteString twoMessages = ByteString.fromArray(xlogData(0x1000, wal(100, 1)))
            .concat(ByteString.fromArray(xlogData(0x1064, wal(100, 2))));
        Iterator<ByteString> socket = new Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public ByteString next() {
                reads.incrementAndGet();
                return twoMessages;
            }
        };
        var statuses = TestSink.<ByteString>probe(testKit.system().classicSystem()).preMaterialize(testKit.system());
        TestSubscriber.Probe<WalChunk> chunks = RunnableGraph.fromGraph(GraphDSL.create(
            TestSink.<WalChunk>probe(testKit.system().classicSystem()), (builder, sink) -> {
                FanOutShape2<ByteString, WalChunk, ByteString> stage = builder.add(new WalStreamingStage(
                    PgFrameDecoder.forClient(ReplicationConnection.MAX_MESSAGE), "primary:5432",
                    new WalFeedback(new Lsn(0x1000)), INTERVAL, Duration.ofSeconds(60)));
                builder.from(builder.add(Source.fromIterator(() -> socket))).toInlet(stage.in());
                builder.from(stage.out0()).to(sink);
                builder.from(stage.out1()).to(builder.add(statuses.second()));
                return ClosedShape.getInstance();
            })).run(testKit.system());
        chunks.request(1);
        assertEquals(new Lsn(0x1000), chunks.expectNext().start());
        chunks.expectNoMessage(Duration.ofMillis(200));
        assertEquals(1, reads.get());
        chunks.request(1);
        assertEquals(new Lsn(0x1064), chunks.expectNext().start(), "from the same read");
        chunks.expectNoMessage(Duration.ofMillis(200));
        assertEquals(2, reads.get(), "all taken: the next read is asked for");
        chunks.cancel();
    }

    @Test
    void aFlushPositionGoesToThePrimaryAtOnceAndAKeepaliveGetsItsReply() {
        WalFeedback feedback = new WalFeedback(new Lsn(0x1000));
        Probes p = run(feedback);
        p.toPrimary().request(3);
        assertEquals(new Lsn(0x1000), status(p.toPrimary().expectNext()).flush(), "the status on connecting");
        feedback.update(new Lsn(0x2000), new Lsn(0x2000), new Lsn(0x2000));
        assertEquals(new Lsn(0x2000), status(p.toPrimary().expectNext(Duration.ofSeconds(5))).flush());
        p.primary().sendNext(ByteString.fromArray(new CopyData(new ReplicationMessage.PrimaryKeepalive(
            new Lsn(0x5000), 0, true).toBytes()).toBytes()));
        assertEquals(new Lsn(0x2000), status(p.toPrimary().expectNext(Duration.ofSeconds(5))).flush());
    }

    @Test
    void copyDoneInTheSameReadComesAfterTheWalBeforeIt() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        byte[] w = wal(500, 3);
        p.chunks().request(5);
        p.primary().sendNext(ByteString.fromArray(xlogData(0x1000, w)).concat(ByteString.fromArray(new CopyDone().toBytes())));
        assertArrayEquals(w, p.chunks().expectNext().data());
        Throwable e = p.chunks().expectError();
        assertInstanceOf(ReplicationException.class, e);
        assertTrue(e.getMessage().contains("ended the WAL stream"), e.getMessage());
    }

    @Test
    void theWalsendersLastCommandCompleteEndsTheStream() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        p.chunks().request(1);
        p.primary().sendNext(ByteString.fromArray(new BackendMessage.CommandComplete("COPY 0").toBytes()));
        assertTrue(p.chunks().expectError().getMessage().contains("ended the WAL stream"));
    }

    @Test
    void thePrimarysErrorKeepsItsSqlState() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        p.chunks().request(1);
        p.primary().sendNext(ByteString.fromArray(BackendMessage.ErrorResponse.fatal("58P01",
            "requested WAL segment 000000010000000000000001 has already been removed").toBytes()));
        ReplicationException e = assertInstanceOf(ReplicationException.class, p.chunks().expectError());
        assertEquals("58P01", e.sqlState());
        assertTrue(e.getMessage().contains("has already been removed"), e.getMessage());
    }

    @Test
    void aConnectionClosedMidMessageFailsAfterTheWholeMessagesBeforeIt() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        byte[] w = wal(300, 4);
        byte[] cut = xlogData(0x112C, wal(300, 5));
        p.chunks().request(5);
        p.primary().sendNext(ByteString.fromArray(xlogData(0x1000, w)).concat(ByteString.fromArray(cut, 0, 40)));
        p.primary().sendComplete();
        assertArrayEquals(w, p.chunks().expectNext().data());
        ReplicationException e = assertInstanceOf(ReplicationException.class, p.chunks().expectError());
        assertEquals("08006", e.sqlState());
        assertTrue(e.getMessage().contains("connection closed by the primary"), e.getMessage());
    }

    @Test
    void aSilentPrimaryIsAskedForAReplyThenDroppedAfterTheReceiveTimeout() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)), Duration.ofMillis(100), Duration.ofMillis(600));
        p.chunks().request(1);
        p.toPrimary().request(100);
        boolean asked = false;
        while (!asked) {
            asked = status(p.toPrimary().expectNext(Duration.ofSeconds(3))).replyRequested();
        }
        ReplicationException e = assertInstanceOf(ReplicationException.class, p.chunks().expectError());
        assertEquals("08006", e.sqlState());
        assertTrue(e.getMessage().contains("terminating walreceiver due to timeout"), e.getMessage());
    }

    @Test
    void aKeepaliveKeepsTheConnection() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)), Duration.ofMillis(100), Duration.ofMillis(600));
        p.chunks().request(1);
        p.toPrimary().request(1000);
        byte[] keepalive = new CopyData(new ReplicationMessage.PrimaryKeepalive(new Lsn(0x1000), 0, false).toBytes())
            .toBytes();
        for (int i = 0; i < 8; i++) {
            p.primary().sendNext(ByteString.fromArray(keepalive));
            p.chunks().expectNoMessage(Duration.ofMillis(200));
        }
    }

    @Test
    void garbageIsAProtocolError() {
        Probes p = run(new WalFeedback(new Lsn(0x1000)));
        p.chunks().request(1);
        p.primary().sendNext(ByteString.fromArray(new CopyData(new byte[] {'x', 1, 2}).toBytes()));
        ReplicationException e = assertInstanceOf(ReplicationException.class, p.chunks().expectError());
        assertEquals("08P01", e.sqlState());
    }

    @Test
    void cancellingTheFeedbackEndsTheStage() {
        WalFeedback feedback = new WalFeedback(new Lsn(0x1000));
        Probes p = run(feedback);
        p.chunks().request(1);
        p.primary().expectRequest();
        feedback.cancel();
        p.chunks().expectComplete();
        p.primary().expectCancellation();
    }

}
