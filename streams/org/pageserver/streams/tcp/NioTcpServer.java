package org.pageserver.streams.tcp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP listener whose connections are Pekko Streams flows, served by one selector thread
 * ({@link SelectorLoop}) and one {@link TcpConnectionStage} per connection.
 *
 * <p>Used for the pgwire listener instead of Pekko's {@code Tcp().bind}, for latency: see
 * {@link SelectorLoop} for the thread switches it saves. The contract is the same as Pekko's
 * server side without half-close: each accepted connection is offered once to the accept
 * callback, which must {@link Connection#handleWith} it (or {@link Connection#close} it).
 */
public final class NioTcpServer {

    private static final Logger log = LoggerFactory.getLogger(NioTcpServer.class);

    /** How long accepting pauses after accept() fails (no file descriptors, for instance). */
    private static final long ACCEPT_PAUSE_MS = 100;
    /** Connections accepted per readiness event before the loop serves its other channels. */
    private static final int ACCEPT_BATCH = 16;

    /** One accepted connection, not yet running. */
    public static final class Connection {
        private final SocketChannel channel;
        private final SelectorLoop loop;
        private final TcpSettings settings;
        private final InetSocketAddress remote;

        private Connection(SocketChannel channel, SelectorLoop loop, TcpSettings settings,
                           InetSocketAddress remote) {
            this.channel = channel;
            this.loop = loop;
            this.settings = settings;
            this.remote = remote;
        }

        public InetSocketAddress remoteAddress() {
            return remote;
        }

        /**
         * Runs the connection: the bytes received flow into {@code handler}, what it emits is
         * sent. {@code attributes} apply to the whole connection (a dispatcher, for instance).
         */
        public void handleWith(Flow<ByteString, ByteString, ?> handler, Materializer materializer,
                               Attributes attributes) {
            Flow.<ByteString, ByteString, NotUsed>fromGraph(new TcpConnectionStage(channel, loop, settings))
                .join(handler)
                .withAttributes(attributes)
                .run(materializer);
        }

        public void close() {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing to release beyond the descriptor
            }
        }
    }

    private final ServerSocketChannel server;
    private final SelectorLoop loop;
    private final InetSocketAddress localAddress;
    private final CompletableFuture<Done> unbound = new CompletableFuture<>();

    private NioTcpServer(ServerSocketChannel server, SelectorLoop loop) throws IOException {
        this.server = server;
        this.loop = loop;
        this.localAddress = (InetSocketAddress) server.getLocalAddress();
    }

    /**
     * Binds {@code host:port} (port 0: any free port) and offers every accepted connection to
     * {@code onAccept}, on the selector thread (so it must not block).
     */
    public static CompletionStage<NioTcpServer> bind(String host, int port, TcpSettings settings,
                                                     Consumer<Connection> onAccept) {
        ServerSocketChannel ssc = null;
        try {
            ssc = ServerSocketChannel.open();
            ssc.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ssc.bind(new InetSocketAddress(host, port), settings.backlog());
            ssc.configureBlocking(false);
            SelectorLoop loop = new SelectorLoop("pgwire-selector-" + ((InetSocketAddress) ssc.getLocalAddress()).getPort(),
                settings.readChunkBytes(), settings.idleSpinNanos());
            NioTcpServer s = new NioTcpServer(ssc, loop);
            CompletableFuture<NioTcpServer> registered = new CompletableFuture<>();
            loop.execute(() -> {
                try {
                    s.server.register(loop.selector(), SelectionKey.OP_ACCEPT, s.new Acceptor(settings, onAccept));
                    registered.complete(s);
                } catch (IOException | RuntimeException e) {
                    registered.completeExceptionally(e);
                }
            });
            return registered;
        } catch (IOException | RuntimeException e) {
            if (ssc != null) {
                try {
                    ssc.close();
                } catch (IOException ignored) {
                    // the bind already failed
                }
            }
            return CompletableFuture.failedFuture(e instanceof IOException io
                ? new IOException("cannot listen on " + host + ":" + port + ": " + io.getMessage(), io) : e);
        }
    }

    public InetSocketAddress localAddress() {
        return localAddress;
    }

    /** Stops accepting; connections already accepted go on. */
    public CompletionStage<Done> unbind() {
        loop.execute(() -> {
            try {
                server.close();
                // a registered channel's socket is closed only when its cancelled key is flushed
                // by a selection: until then the kernel would still accept connections
                loop.selector().selectNow();
            } catch (IOException e) {
                log.warn("closing the listener on {}: {}", localAddress, e.toString());
            }
            unbound.complete(Done.getInstance());
        });
        return unbound;
    }

    /** Unbinds and stops the selector thread: every connection still open fails. */
    public void terminate() {
        unbind().thenRun(loop::close);
    }

    private final class Acceptor implements SelectorLoop.Handler {
        private final TcpSettings settings;
        private final Consumer<Connection> onAccept;

        Acceptor(TcpSettings settings, Consumer<Connection> onAccept) {
            this.settings = settings;
            this.onAccept = onAccept;
        }

        @Override
        public void ready(SelectionKey key) {
            for (int i = 0; i < ACCEPT_BATCH; i++) {
                SocketChannel ch;
                try {
                    ch = server.accept();
                } catch (IOException e) {
                    log.warn("accept on {} failed, pausing {} ms: {}", localAddress, ACCEPT_PAUSE_MS, e.toString());
                    key.interestOps(0);
                    CompletableFuture.delayedExecutor(ACCEPT_PAUSE_MS, TimeUnit.MILLISECONDS, loop::execute)
                        .execute(() -> {
                            if (key.isValid()) {
                                key.interestOps(SelectionKey.OP_ACCEPT);
                            }
                        });
                    return;
                }
                if (ch == null) {
                    return;
                }
                Connection c;
                try {
                    ch.configureBlocking(false);
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c = new Connection(ch, loop, settings, (InetSocketAddress) ch.getRemoteAddress());
                } catch (IOException e) {
                    log.debug("accepted connection failed at once: {}", e.toString());
                    closeQuietly(ch);
                    continue;
                }
                try {
                    onAccept.accept(c);
                } catch (RuntimeException e) {
                    log.error("could not start connection from {}", c.remoteAddress(), e);
                    c.close();
                }
            }
        }

        @Override
        public void loopClosed() {
            closeQuietly(server);
        }
    }

    private static void closeQuietly(java.nio.channels.Channel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // best effort
        }
    }
}
