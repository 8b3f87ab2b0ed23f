package org.pageserver.streams.tcp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One accepted TCP connection as a stream stage: {@code in} takes the bytes to send, {@code out}
 * emits the bytes received. Joined with a protocol flow it is the whole connection.
 *
 * <p>Reading: the selector thread reads whenever the socket is readable and the stage holds
 * fewer than {@code readAheadChunks} chunks not yet taken downstream, and hands each chunk to the
 * stage (an async callback: the one thread switch of a request). When the chunks are not taken
 * the selector stops asking for readability, so the client's writes stop at its TCP window:
 * backpressure without buffering more than {@code readAheadChunks * readChunkBytes}.
 *
 * <p>Writing: the stage copies each element into the connection's direct send buffer and
 * writes it with a non-blocking write on its own thread, and pulls the next only when the element is fully written. A full socket buffer (a
 * client that stops reading) parks the element until the selector sees the socket writable;
 * meanwhile nothing more is pulled, so the protocol upstream stops too and no other connection
 * notices.
 *
 * <p>Closing: the connection closes once the bytes to send are complete and written (no
 * half-close); the peer closing its side completes {@code out}; a socket error on reading fails
 * the stage. A write that fails (the peer closed, EPIPE) ends only the sending side: what the
 * peer sent before it went (a walsender's last CommandComplete at shutdown, say) is still read
 * and emitted, up to its end, and then the connection closes.
 */
final class TcpConnectionStage extends GraphStage<FlowShape<ByteString, ByteString>> {

    private static final Logger log = LoggerFactory.getLogger(TcpConnectionStage.class);

    private final Inlet<ByteString> in = Inlet.create("TcpConnection.in");
    private final Outlet<ByteString> out = Outlet.create("TcpConnection.out");
    private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);

    private static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);

    private final SocketChannel channel;
    private final SelectorLoop loop;
    private final TcpSettings settings;

    TcpConnectionStage(SocketChannel channel, SelectorLoop loop, TcpSettings settings) {
        this.channel = channel;
        this.loop = loop;
        this.settings = settings;
    }

    @Override
    public FlowShape<ByteString, ByteString> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes inheritedAttributes) {
        return new Logic();
    }

    private final class Logic extends GraphStageLogic {
        /** Chunks the selector may still read before the stage hands some downstream. */
        private final AtomicInteger credit = new AtomicInteger(settings.readAheadChunks());
        private final SelectorSide side = new SelectorSide();
        private final ArrayDeque<ByteString> received = new ArrayDeque<>();
        private AsyncCallback<ByteString> onData;
        private AsyncCallback<Done> onPeerClosed;
        private AsyncCallback<Throwable> onError;
        private AsyncCallback<Done> onWritable;
        private boolean peerClosed;
        /** Bytes of the element being sent not yet copied into {@code sendBuffer}; null when none. */
        private ByteString pending;
        /**
         * The connection's send buffer, direct, in read mode: what is between position and limit
         * is still to be written. A heap array written to a socket is copied by the JDK into a
         * thread-local direct buffer anyway, and a gathering write costs a thread-local lookup
         * of its iovec array besides: one copy into our own buffer and a plain write is cheaper.
         */
        private ByteBuffer sendBuffer = EMPTY;
        private boolean sendDone;
        /** A write failed: nothing more is sent; reading goes on up to the peer's end. */
        private boolean sendFailed;
        private boolean closed;

        Logic() {
            super(shape);
            setHandler(in, new AbstractInHandler() {
                @Override
                public void onPush() {
                    pending = grab(in);
                    flush();
                }

                @Override
                public void onUpstreamFinish() {
                    sendDone = true;
                    if (pending == null) {
                        closeAndComplete();
                    }
                }

                @Override
                public void onUpstreamFailure(Throwable ex) {
                    closeChannel();
                    failStage(ex);
                }
            });
            setHandler(out, new AbstractOutHandler() {
                @Override
                public void onPull() {
                    if (!received.isEmpty()) {
                        push(out, received.poll());
                        returnCredit();
                    } else if (peerClosed) {
                        completeOut();
                    }
                }

                @Override
                public void onDownstreamFinish(Throwable cause) {
                    // The protocol wants no more input; what it still sends goes out first.
                    received.clear();
                    loop.execute(side::stopReading);
                    if (isClosed(in) && pending == null) {
                        closeAndComplete();
                    }
                }
            });
        }

        @Override
        public void preStart() {
            setKeepGoing(true);
            onData = createAsyncCallback(this::received);
            onPeerClosed = createAsyncCallback(d -> {
                peerClosed = true;
                if (received.isEmpty() && !isClosed(out)) {
                    completeOut();
                }
            });
            onError = createAsyncCallback(e -> {
                log.debug("connection {} failed: {}", remote(), e.toString());
                closeChannel();
                failStage(e);
            });
            onWritable = createAsyncCallback(d -> {
                if (pending != null) {
                    flush();
                }
            });
            loop.execute(side::register);
            pull(in);
        }

        @Override
        public void postStop() {
            closeChannel();
            received.clear();
        }

        private void received(ByteString chunk) {
            if (isClosed(out)) {
                return;
            }
            if (isAvailable(out) && received.isEmpty()) {
                push(out, chunk);
                returnCredit();
            } else {
                received.add(chunk);
            }
        }

        private void returnCredit() {
            if (credit.getAndIncrement() == 0) {
                loop.execute(side::updateInterest);
            }
        }

        private void flush() {
            try {
                while (true) {
                    if (sendBuffer.hasRemaining()) {
                        int n = channel.write(sendBuffer);
                        if (sendBuffer.hasRemaining()) {
                            if (n == 0) {
                                loop.execute(side::armWrite);
                                return;
                            }
                            continue;
                        }
                    }
                    if (pending.isEmpty()) {
                        pending = null;
                        if (sendDone) {
                            closeAndComplete();
                        } else if (!isClosed(in)) {
                            pull(in);
                        }
                        return;
                    }
                    if (sendBuffer == EMPTY) {
                        // allocated at the first send: a connection that never answers (or is
                        // refused at once) costs no direct memory
                        sendBuffer = ByteBuffer.allocateDirect(settings.sendBufferBytes());
                    }
                    sendBuffer.clear();
                    int copied = pending.copyToBuffer(sendBuffer);
                    pending = pending.drop(copied);
                    sendBuffer.flip();
                }
            } catch (IOException e) {
                log.debug("write to {} failed: {}", remote(), e.toString());
                sendFailed = true;
                pending = null;
                if (!isClosed(in)) {
                    cancel(in);
                }
                if (isClosed(out)) {
                    closeAndComplete();
                }
            }
        }

        /** Everything the peer sent was emitted; with nothing more to send either, the connection closes. */
        private void completeOut() {
            complete(out);
            if (sendFailed) {
                closeAndComplete();
            }
        }

        private void closeAndComplete() {
            closeChannel();
            completeStage();
        }

        private void closeChannel() {
            if (!closed) {
                closed = true;
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // closing; nothing to report to anyone
                }
                // The JDK closes a registered channel's socket only when its selector next
                // selects: without this wake-up an idle selector would keep the descriptor of
                // every connection closed since its last event (ConnectionFloodIT counts them).
                loop.execute(side::forget);
            }
        }

        private Object remote() {
            try {
                return channel.getRemoteAddress();
            } catch (IOException e) {
                return "?";
            }
        }

        /** The selector thread's half: the key and the interest set live only there. */
        private final class SelectorSide implements SelectorLoop.Handler {
            private SelectionKey key;
            private boolean peerEof;
            private boolean readStopped;
            private boolean writeArmed;

            void register() {
                try {
                    key = channel.register(loop.selector(), SelectionKey.OP_READ, this);
                } catch (ClosedChannelException e) {
                    // the stage closed the channel before it was registered
                } catch (RuntimeException e) {
                    onError.invoke(e);
                }
            }

            /** The channel is closed: its key goes at this turn of the loop, and with it the socket. */
            void forget() {
                if (key != null) {
                    key.cancel();
                }
            }

            void stopReading() {
                readStopped = true;
                updateInterest();
            }

            void armWrite() {
                writeArmed = true;
                updateInterest();
            }

            void updateInterest() {
                if (key == null || !key.isValid()) {
                    return;
                }
                int ops = (!peerEof && !readStopped && credit.get() > 0 ? SelectionKey.OP_READ : 0)
                    | (writeArmed ? SelectionKey.OP_WRITE : 0);
                try {
                    if (key.interestOps() != ops) {
                        key.interestOps(ops);
                    }
                } catch (java.nio.channels.CancelledKeyException e) {
                    // the stage closed the channel meanwhile
                }
            }

            @Override
            public void ready(SelectionKey k) {
                int ops = k.readyOps();
                if ((ops & SelectionKey.OP_WRITE) != 0 && writeArmed) {
                    writeArmed = false;
                    updateInterest();
                    onWritable.invoke(Done.getInstance());
                }
                if ((ops & SelectionKey.OP_READ) != 0 && k.isValid() && !peerEof && !readStopped) {
                    read();
                }
            }

            private void read() {
                ByteBuffer buf = loop.readBuffer();
                buf.clear();
                int n;
                try {
                    n = channel.read(buf);
                } catch (IOException e) {
                    peerEof = true;
                    updateInterest();
                    onError.invoke(e);
                    return;
                }
                if (n < 0) {
                    peerEof = true;
                    updateInterest();
                    onPeerClosed.invoke(Done.getInstance());
                    return;
                }
                if (n == 0) {
                    return;
                }
                byte[] chunk = new byte[n];
                buf.flip();
                buf.get(chunk);
                if (credit.decrementAndGet() <= 0) {
                    updateInterest();
                }
                onData.invoke(ByteString.fromArrayUnsafe(chunk));
            }

            @Override
            public void loopClosed() {
                onError.invoke(new IOException("the selector loop closed"));
            }
        }
    }

}
