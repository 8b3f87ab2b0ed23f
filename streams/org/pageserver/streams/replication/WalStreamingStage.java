package org.pageserver.streams.replication;

import java.time.Duration;
import java.util.ArrayDeque;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FanOutShape2;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.replication.ReplicationMessage;

/**
 * The streaming half of the WAL receiver (walreceiver.c's loop), on a non-blocking connection:
 * {@code in} takes the bytes the primary sends, {@code chunks} emits each XLogData as a
 * {@link WalChunk}, {@code toPrimary} carries the standby status updates.
 *
 * <pre>
 *            bytes            +--------------------+  WalChunk
 *  primary ------------------>| in        chunks   |-----------> the tenant's WAL stream
 *          <------------------| toPrimary          |
 *            StandbyStatus    +--------------------+
 * </pre>
 *
 * <p>Backpressure: the connection is read only when every chunk decoded from the last read has
 * been taken, so a slow consumer slows the primary's walsender through TCP, and the slot keeps
 * what it has not been told is flushed.
 *
 * <p>Status updates report the {@link WalFeedback}: when its positions change, when a
 * keepalive asks for a reply, and at least every {@code statusInterval} on a quiet connection
 * (what wal_receiver_status_interval does). Only the newest waits when the socket is full:
 * a later status says everything an earlier one did.
 *
 * <p>A primary gone without closing the connection (a host down, a cable cut) sends nothing:
 * as walreceiver does with wal_receiver_timeout, a connection silent for half of
 * {@code receiveTimeout} is asked for a reply (a status with replyRequested, which a live
 * walsender answers with a keepalive), and one silent for all of it ends the stream,
 * "terminating walreceiver due to timeout", so that the receiver reconnects.
 *
 * <p>Whatever ends the stream fails the stage with a {@link ReplicationException}, once every
 * chunk decoded before it has been taken: the primary's error, its CopyDone (or the lone
 * CommandComplete of a walsender shutting down), a protocol violation, the receive timeout,
 * the connection lost or closed. Cancelling {@code chunks} (or {@link WalFeedback#cancel})
 * completes the stage, which closes the connection.
 */
final class WalStreamingStage extends GraphStage<FanOutShape2<ByteString, WalChunk, ByteString>> {
    private final Inlet<ByteString> in = Inlet.create("WalStreaming.in");
    private final Outlet<WalChunk> chunks = Outlet.create("WalStreaming.chunks");
    private final Outlet<ByteString> toPrimary = Outlet.create("WalStreaming.toPrimary");
    private final FanOutShape2<ByteString, WalChunk, ByteString> shape = new FanOutShape2<>(in, chunks, toPrimary);

    private final PgFrameDecoder decoder;
    private final String where;
    private final WalFeedback feedback;
    private final Duration statusInterval;
    private final Duration receiveTimeout;

    /**
     * @param decoder        the handshake's decoder, holding what the primary sent after CopyBothResponse
     * @param receiveTimeout wal_receiver_timeout; zero waits forever
     */
    WalStreamingStage(PgFrameDecoder decoder, String where, WalFeedback feedback, Duration statusInterval,
                      Duration receiveTimeout) {
        this.decoder = decoder;
        this.where = where;
        this.feedback = feedback;
        this.statusInterval = statusInterval;
        this.receiveTimeout = receiveTimeout;
    }

    @Override
    public FanOutShape2<ByteString, WalChunk, ByteString> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes inheritedAttributes) {
        return new Logic();
    }

    private final class Logic extends TimerGraphStageLogic {
        private final ArrayDeque<WalChunk> decoded = new ArrayDeque<>();
        /** The newest status not sent yet (the socket was not ready for it); null when none. */
        private ByteString unsentStatus;
        private long lastStatusNanos;
        /** When the primary last sent anything, and whether it was asked for a reply since. */
        private long lastReceivedNanos = System.nanoTime();
        private boolean pinged;
        /**
         * Why the stream ends (the primary's error, its CopyDone, the connection closed or
         * lost); the stage fails with it once every chunk decoded before it is taken.
         */
        private ReplicationException ending;

        Logic() {
            super(shape);
            setHandler(in, new AbstractInHandler() {
                @Override
                public void onPush() {
                    lastReceivedNanos = System.nanoTime();
                    pinged = false;
                    onBytes(grab(in));
                }

                @Override
                public void onUpstreamFinish() {
                    end(ReplicationException.lost(where, new java.io.IOException("connection closed by the primary")));
                }

                @Override
                public void onUpstreamFailure(Throwable ex) {
                    end(ex instanceof ReplicationException r ? r : ReplicationException.lost(where, ex));
                }
            });
            setHandler(chunks, new AbstractOutHandler() {
                @Override
                public void onPull() {
                    emitDecoded();
                }
            });
            setHandler(toPrimary, new AbstractOutHandler() {
                @Override
                public void onPull() {
                    if (unsentStatus != null) {
                        push(toPrimary, unsentStatus);
                        unsentStatus = null;
                    }
                }

                @Override
                public void onDownstreamFinish(Throwable cause) {
                    // the connection's sending side is gone: its receiving side says why, on `in`
                }
            });
        }

        @Override
        public void preStart() {
            AsyncCallback<Boolean> positionsChanged = createAsyncCallback(x -> {
                if (feedback.takeDirty()) {
                    sendStatus(false);
                }
            });
            AsyncCallback<Boolean> cancelled = createAsyncCallback(x -> completeStage());
            feedback.onUpdate(() -> positionsChanged.invoke(Boolean.TRUE));
            feedback.onCancel(() -> cancelled.invoke(Boolean.TRUE));
            Duration tick = receiveTimeout.isZero() ? statusInterval
                : java.util.Collections.min(java.util.List.of(statusInterval, receiveTimeout.dividedBy(4)));
            scheduleWithFixedDelay("tick", tick, tick);
            // the first status at once, as walreceiver sends one on connecting
            sendStatus(false);
            onBytes(ByteString.emptyByteString());
        }

        @Override
        public void onTimer(Object key) {
            long silent = System.nanoTime() - lastReceivedNanos;
            if (ending == null && !receiveTimeout.isZero() && silent >= receiveTimeout.toNanos()) {
                end(new ReplicationException(org.pageserver.protocol.pgwire.SqlState.CONNECTION_FAILURE,
                    "terminating walreceiver due to timeout: nothing from the primary at " + where + " for "
                        + receiveTimeout.toMillis() + " ms"));
                return;
            }
            if (!receiveTimeout.isZero() && !pinged && silent >= receiveTimeout.toNanos() / 2) {
                pinged = true;
                sendStatus(true);
            } else if (feedback.takeDirty() || System.nanoTime() - lastStatusNanos >= statusInterval.toNanos()) {
                sendStatus(false);
            }
        }

        @Override
        public void postStop() {
            feedback.onUpdate(() -> { });
        }

        private void onBytes(ByteString bytes) {
            if (!bytes.isEmpty()) {
                decoder.feed(bytes.toArrayUnsafe());
            }
            try {
                PgFrame f;
                while ((f = decoder.next()) != null) {
                    onMessage(BackendMessage.parse(f));
                }
            } catch (PgProtocolException | IllegalArgumentException e) {
                end(ReplicationException.protocol(where, e.getMessage()));
                return;
            } catch (ReplicationException e) {
                end(e);
                return;
            }
            emitDecoded();
        }

        /** Nothing more is read; the failure follows the chunks decoded before it. */
        private void end(ReplicationException why) {
            if (ending == null) {
                ending = why;
                if (!isClosed(in)) {
                    cancel(in);
                }
            }
            emitDecoded();
        }

        private void onMessage(BackendMessage m) {
            if (m instanceof CopyData d) {
                ReplicationMessage r = ReplicationMessage.parseStreaming(d.data());
                if (r instanceof ReplicationMessage.XLogData x) {
                    decoded.add(new WalChunk(x.dataStart(), x.data(), x.walEnd(), x.sendTime()));
                } else if (r instanceof ReplicationMessage.PrimaryKeepalive k && k.replyRequested()) {
                    sendStatus(false);
                }
            } else if (m instanceof BackendMessage.ErrorResponse e) {
                throw ReplicationException.fromPrimary(where, e);
            } else if (m instanceof CopyDone) {
                throw ReplicationException.streamEnded(where, "timeline switch or shutdown");
            } else if (m instanceof BackendMessage.CommandComplete) {
                // WalSndDone: a walsender shutting down, once everything it sent was confirmed
                // flushed, ends the COPY with CommandComplete alone, no CopyDone
                throw ReplicationException.streamEnded(where, "shutdown");
            } else if (!(m instanceof BackendMessage.NoticeResponse || m instanceof BackendMessage.ParameterStatus)) {
                throw ReplicationException.protocol(where, "unexpected " + m.getClass().getSimpleName()
                    + " in the WAL stream");
            }
        }

        /** Pushes what was decoded as far as demand goes; reads on once all of it is taken. */
        private void emitDecoded() {
            if (!decoded.isEmpty() && isAvailable(chunks)) {
                push(chunks, decoded.poll());
            }
            if (decoded.isEmpty()) {
                if (ending != null) {
                    failStage(ending);
                } else if (!hasBeenPulled(in) && !isClosed(in)) {
                    pull(in);
                }
            }
        }

        private void sendStatus(boolean replyRequested) {
            ByteString status = ByteString.fromArrayUnsafe(new CopyData(new ReplicationMessage.StandbyStatusUpdate(
                feedback.written(), feedback.flushed(), feedback.applied(), ReplicationMessage.now(), replyRequested)
                .toBytes()).toBytes());
            lastStatusNanos = System.nanoTime();
            if (isAvailable(toPrimary)) {
                push(toPrimary, status);
            } else {
                unsentStatus = status;
            }
        }
    }
}
