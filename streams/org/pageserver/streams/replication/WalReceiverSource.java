package org.pageserver.streams.replication;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.javadsl.Source;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.protocol.replication.ReplicationMessage;

/**
 * The WAL receiver as a stream: what walreceiver.c does, as a Pekko Streams source. On
 * materialization it connects on the blocking dispatcher, checks the timeline with
 * IDENTIFY_SYSTEM, and runs START_REPLICATION on the tenant's slot; then every XLogData becomes
 * one {@link WalChunk}. The socket is read only when downstream pulls, so a slow consumer slows
 * the primary's walsender through TCP, and the slot keeps the WAL it has not been told is
 * flushed.
 *
 * <p>Standby status updates report the materialized {@link WalFeedback}: when the primary asks
 * (keepalive with reply requested), when the positions change, and at least every
 * {@code statusInterval} even on a quiet connection. Any failure fails the stream with a
 * {@link ReplicationException}, after every chunk received before it; cancelling the stream
 * closes the connection.
 */
public final class WalReceiverSource {
    private WalReceiverSource() {
    }

    /** Materialize once: the returned source owns one feedback object and one connection. */
    public static Source<WalChunk, WalFeedback> create(ConnInfo conninfo, String slotName, int timeline, Lsn start,
                                                      Duration connectTimeout, Duration statusInterval,
                                                      String blockingDispatcher) {
        WalFeedback feedback = new WalFeedback(start);
        AtomicReference<RuntimeException> lost = new AtomicReference<>();
        // A failure crossing the async boundary to the consumer overtakes the chunks buffered
        // there, and they are dropped: WAL received would be lost with the connection (all of
        // it up to the shutdown checkpoint, when a primary shutting down closes the stream).
        // So the session ends the stream normally, which comes after every chunk, and the
        // failure is raised past the boundary.
        return Source.unfoldResource(
                () -> Session.open(conninfo, slotName, timeline, start, connectTimeout, statusInterval, feedback),
                session -> session.next(lost),
                Session::close)
            .withAttributes(ActorAttributes.dispatcher(blockingDispatcher))
            .concatLazy(Source.lazySource(() -> lost.get() == null
                ? Source.<WalChunk>empty() : Source.<WalChunk>failed(lost.get())))
            .mapMaterializedValue(nu -> feedback);
    }

    /** One replication connection in streaming mode. */
    static final class Session {
        private final ReplicationConnection conn;
        private final Duration interval;
        private final WalFeedback feedback;
        private long lastStatusNanos;

        private Session(ReplicationConnection conn, Duration interval, WalFeedback feedback) {
            this.conn = conn;
            this.interval = interval;
            this.feedback = feedback;
        }

        static Session open(ConnInfo conninfo, String slot, int timeline, Lsn start, Duration connectTimeout,
                            Duration interval, WalFeedback feedback) {
            ReplicationConnection c = ReplicationConnection.open(conninfo, connectTimeout);
            try {
                IdentifySystem id = c.identifySystem();
                if (id.timeline() != timeline) {
                    throw new ReplicationException("55000", "the primary is on timeline " + id.timeline()
                        + ", the tenant follows timeline " + timeline + ": timeline switches are not supported");
                }
                c.startReplication(slot, start, timeline);
                feedback.onCancel(c::abort);
                return new Session(c, interval, feedback);
            } catch (RuntimeException e) {
                c.close();
                throw e;
            }
        }

        /** The next chunk; empty once the connection failed, with the failure in {@code lost}. */
        Optional<WalChunk> next(AtomicReference<RuntimeException> lost) {
            try {
                return Optional.of(receive());
            } catch (RuntimeException e) {
                lost.set(e);
                return Optional.empty();
            }
        }

        private WalChunk receive() {
            while (true) {
                if (feedback.isCancelled()) {
                    throw new ReplicationException("57014", "WAL receiver cancelled");
                }
                boolean due = System.nanoTime() - lastStatusNanos >= interval.toNanos();
                if (feedback.takeDirty() || due) {
                    status(false);
                }
                ReplicationMessage m = conn.readStreaming(interval);
                if (m instanceof ReplicationMessage.XLogData d) {
                    return new WalChunk(d.dataStart(), d.data(), d.walEnd(), d.sendTime());
                }
                if (m instanceof ReplicationMessage.PrimaryKeepalive k && k.replyRequested()) {
                    status(false);
                }
            }
        }

        private void status(boolean replyRequested) {
            conn.sendStatus(feedback.written(), feedback.flushed(), feedback.applied(), replyRequested);
            lastStatusNanos = System.nanoTime();
        }

        void close() {
            conn.close();
        }
    }
}
