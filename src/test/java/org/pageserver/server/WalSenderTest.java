package org.pageserver.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.replication.ReplicationMessage;

@ExtendWith(TestKitJUnit5Extension.class)
class WalSenderTest {
    @JUnit5TestKit
    ActorTestKit testKit = new JUnit5TestKitBuilder().build();

    static final Lsn BASE = new Lsn(0x3000000L);
    static final Duration LONG = Duration.ofHours(1);

    /** {@code wal} from BASE, all available at once; waiting past its end answers its end again. */
    static WalSender.WalSource inMemory(byte[] wal) {
        Lsn end = BASE.plus(wal.length);
        return new WalSender.WalSource() {
            @Override
            public CompletionStage<Lsn> waitPast(Lsn position, Duration maxWait) {
                return CompletableFuture.completedFuture(end);
            }

            @Override
            public CompletionStage<byte[]> read(Lsn from, Lsn to) {
                int off = (int) (from.value() - BASE.value());
                return CompletableFuture.completedFuture(java.util.Arrays.copyOfRange(wal, off,
                    off + (int) (to.value() - from.value())));
            }
        };
    }

    /** WAL that never comes, and no keepalive either (the wait never ends). */
    static WalSender.WalSource never() {
        return new WalSender.WalSource() {
            @Override
            public CompletionStage<Lsn> waitPast(Lsn position, Duration maxWait) {
                return new CompletableFuture<>();
            }

            @Override
            public CompletionStage<byte[]> read(Lsn from, Lsn to) {
                throw new AssertionError("nothing to read");
            }
        };
    }

    List<ByteString> run(Source<ByteString, ?> fromStandby, WalSender.WalSource wal, Lsn start, Duration keepalive,
                         int take) throws Exception {
        return fromStandby.via(WalSender.flow(wal, start, keepalive)).take(take).runWith(Sink.seq(), testKit.system())
            .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void sendsTheWalFromTheRequestedPositionInPiecesOfAtMostMaxSendSize() throws Exception {
        byte[] wal = new byte[300_000];
        new Random(7).nextBytes(wal);
        Lsn start = BASE.plus(100);
        List<ByteString> sent = run(Source.maybe(), inMemory(wal), start, LONG, 3);
        long next = start.value();
        for (ByteString m : sent) {
            ReplicationMessage.XLogData w = (ReplicationMessage.XLogData) ReplicationMessage.parseStreaming(m.toArray());
            assertEquals(new Lsn(next), w.dataStart());
            assertEquals(BASE.plus(wal.length), w.walEnd());
            assertTrue(w.data().length <= WalSender.MAX_SEND_SIZE, "piece of " + w.data().length);
            int off = (int) (next - BASE.value());
            assertArrayEquals(java.util.Arrays.copyOfRange(wal, off, off + w.data().length), w.data());
            next += w.data().length;
        }
        assertEquals(BASE.value() + wal.length, next);
    }

    /**
     * A standby may read a WAL page up to where any message ended, and PostgreSQL's xlogreader
     * does not read that page again for the part of a record crossing into the next page: a
     * message cut short of the WAL available must end at a page boundary, never in the middle of
     * a page (and of a record), also when the stream starts in the middle of one.
     */
    @Test
    void aPieceCutShortOfTheEndAvailableEndsAtAPageBoundary() throws Exception {
        byte[] wal = new byte[400_000];
        Lsn start = BASE.plus(5000);
        List<ByteString> sent = run(Source.maybe(), inMemory(wal), start, LONG, 4);
        Lsn end = BASE.plus(wal.length);
        for (ByteString m : sent) {
            ReplicationMessage.XLogData w = (ReplicationMessage.XLogData) ReplicationMessage.parseStreaming(m.toArray());
            Lsn pieceEnd = w.dataStart().plus(w.data().length);
            assertTrue(pieceEnd.equals(end) || pieceEnd.value() % 8192 == 0,
                "a piece from " + w.dataStart() + " ends at " + pieceEnd + ", inside a page, short of " + end);
        }
        ReplicationMessage.XLogData last = (ReplicationMessage.XLogData)
            ReplicationMessage.parseStreaming(sent.get(sent.size() - 1).toArray());
        assertEquals(end, last.dataStart().plus(last.data().length));
    }

    @Test
    void whenNoWalComesAKeepaliveAsksForAReply() throws Exception {
        List<ByteString> sent = run(Source.maybe(), inMemory(new byte[0]), BASE, Duration.ofMillis(50), 2);
        for (ByteString m : sent) {
            ReplicationMessage.PrimaryKeepalive k = (ReplicationMessage.PrimaryKeepalive)
                ReplicationMessage.parseStreaming(m.toArray());
            assertEquals(BASE, k.walEnd());
            assertTrue(k.replyRequested());
        }
    }

    @Test
    void theStandbysCopyDoneEndsTheStream() throws Exception {
        byte[] status = new ReplicationMessage.StandbyStatusUpdate(BASE, BASE, BASE, 0, false).toBytes();
        assertEquals(List.of(), run(Source.single(ByteString.fromArray(status)), never(), BASE, LONG, 1));
    }

    @Test
    void feedbackIsReadAndAnUnknownMessageIsAProtocolViolation() {
        byte[] feedback = ByteBuffer.allocate(25).put((byte) 'h').putLong(1).putInt(700).putInt(0).putInt(0).putInt(0)
            .array();
        assertInstanceOf(ReplicationMessage.HotStandbyFeedback.class,
            WalSender.standbyMessage(ByteString.fromArray(feedback)));
        ExecutionException e = assertThrows(ExecutionException.class, () -> run(
            Source.from(List.of(ByteString.fromArray(feedback), ByteString.fromArray(new byte[] {'x'}))),
            never(), BASE, LONG, 1));
        PgProtocolException pe = assertInstanceOf(PgProtocolException.class, e.getCause());
        assertEquals("08P01", pe.sqlState());
        assertEquals("unexpected message type \"x\"", pe.getMessage());
    }
}
