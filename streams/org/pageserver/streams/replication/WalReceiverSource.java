package org.pageserver.streams.replication;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.FanOutShape2;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Graph;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.javadsl.GraphDSL;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.streams.tcp.TcpClient;

/**
 * The WAL receiver as a stream: what walreceiver.c does, as a Pekko Streams source. On
 * materialization it connects, authenticates, checks the timeline with IDENTIFY_SYSTEM and
 * runs START_REPLICATION on the tenant's slot, blocking, on the blocking dispatcher (a few
 * round trips); then it hands the connection to the non-blocking transport ({@link TcpClient})
 * and the {@link WalStreamingStage}, which emits every XLogData as one {@link WalChunk} and
 * reports the materialized {@link WalFeedback} to the primary.
 *
 * <p>Why the hand-over: a streaming tenant spends nearly all its time waiting for the primary.
 * Read by a blocking socket, each waited on a thread of the blocking pool, and the pool's size
 * bounded how many tenants could stream at all; on the shared selector thread, waiting costs
 * nothing.
 *
 * <p>Any failure fails the stream with a {@link ReplicationException}; cancelling the stream
 * (or {@link WalFeedback#cancel}, also during the handshake) closes the connection.
 */
public final class WalReceiverSource {
    private WalReceiverSource() {
    }

    /**
     * Materialize once: the returned source owns one feedback object and one connection.
     * {@code receiveTimeout}: wal_receiver_timeout (zero: none), see {@link WalStreamingStage}.
     */
    public static Source<WalChunk, WalFeedback> create(ConnInfo conninfo, String slotName, int timeline, Lsn start,
                                                      Duration connectTimeout, Duration statusInterval,
                                                      Duration receiveTimeout, String blockingDispatcher) {
        WalFeedback feedback = new WalFeedback(start);
        return Source.<WalChunk, NotUsed>fromMaterializer((mat, attributes) -> {
                Executor blocking = mat.system().dispatchers().lookup(blockingDispatcher);
                CompletableFuture<ReplicationConnection.Streaming> opened = new CompletableFuture<>();
                blocking.execute(() -> {
                    try {
                        opened.complete(handshake(conninfo, slotName, timeline, start, connectTimeout, feedback));
                    } catch (RuntimeException e) {
                        opened.completeExceptionally(e);
                    }
                });
                // The streaming stage fails only after its last chunk, but a failure crossing
                // flatMapConcat's boundary overtakes the chunk waiting there, which is dropped:
                // WAL received would be lost with the connection. So the inner stream ends
                // normally and its failure is raised after it, behind every chunk.
                AtomicReference<Throwable> lost = new AtomicReference<>();
                return Source.completionStage(opened)
                    .flatMapConcat(s -> streaming(s, feedback, statusInterval, receiveTimeout)
                        .recoverWithRetries(1, new PFBuilder<Throwable, Graph<SourceShape<WalChunk>, NotUsed>>()
                            .match(Throwable.class, e -> {
                                lost.set(e);
                                return Source.empty();
                            }).build()))
                    .concatLazy(Source.lazySource(() -> lost.get() == null
                        ? Source.<WalChunk>empty() : Source.<WalChunk>failed(lost.get())));
            })
            .mapMaterializedValue(nu -> feedback);
    }

    private static ReplicationConnection.Streaming handshake(ConnInfo conninfo, String slot, int timeline, Lsn start,
                                                             Duration connectTimeout, WalFeedback feedback) {
        ReplicationConnection c = ReplicationConnection.open(conninfo, connectTimeout);
        // until the stage takes over, a cancel closes the socket under a blocked read
        feedback.onCancel(c::abort);
        try {
            IdentifySystem id = c.identifySystem();
            if (id.timeline() != timeline) {
                throw new ReplicationException("55000", "the primary is on timeline " + id.timeline()
                    + ", the tenant follows timeline " + timeline + ": timeline switches are not supported");
            }
            return c.startReplication(slot, start, timeline);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private static Source<WalChunk, NotUsed> streaming(ReplicationConnection.Streaming s, WalFeedback feedback,
                                                       Duration statusInterval, Duration receiveTimeout) {
        try {
            var connection = TcpClient.connection(s.channel());
            return Source.fromGraph(GraphDSL.create(b -> {
                FanOutShape2<ByteString, WalChunk, ByteString> stage = b.add(
                    new WalStreamingStage(s.decoder(), s.where(), feedback, statusInterval, receiveTimeout));
                FlowShape<ByteString, ByteString> socket = b.add(connection);
                b.from(stage.out1()).via(socket).toInlet(stage.in());
                return SourceShape.of(stage.out0());
            }));
        } catch (IOException e) {
            throw ReplicationException.lost(s.where(), e);
        }
    }
}
