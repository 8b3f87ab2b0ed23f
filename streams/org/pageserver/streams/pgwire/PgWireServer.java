package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.streams.tcp.NioTcpServer;
import org.pageserver.streams.tcp.TcpSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL wire-protocol (v3) server on {@link NioTcpServer}: one {@link PgServerStage} per accepted
 * connection does startup, authentication ({@link Authenticator}) and hands statements to the
 * {@link PgSession} that the {@link PgSessionHandler} opens for it. A connection's failure
 * affects no other connection.
 *
 * <p>{@link #start} registers with CoordinatedShutdown: the listener is unbound in phase
 * service-unbind and open sessions are ended with FATAL 57P01 in phase service-requests-done.
 */
public final class PgWireServer {

    private static final Logger log = LoggerFactory.getLogger(PgWireServer.class);

    /**
     * Server settings; {@link #DEFAULTS} suits production and tests.
     *
     * @param maxMessageSize largest body of a Query, Parse, Bind or FunctionCall (and of a CopyData
     *        unless the copy bounds it lower); other messages have PostgreSQL's fixed bounds
     *        ({@link org.pageserver.protocol.pgwire.MessageLimits}); past it: FATAL 08P01, refused
     *        from the header
     * @param maxConnections connections beyond this get FATAL 53300 after their startup packet
     * @param serverVersion reported in ParameterStatus server_version
     * @param authenticationTimeout time allowed from connect to the end of authentication
     *        (PostgreSQL's authentication_timeout); then FATAL 57014 and close
     * @param dispatcher config path of the dispatcher the connections' stream actors run on, or
     *        null for the materializer's default
     * @param tcp the listener's transport settings
     */
    public record Settings(int maxMessageSize, int maxConnections, String serverVersion,
                           java.time.Duration authenticationTimeout, String dispatcher, TcpSettings tcp) {

        public static final Settings DEFAULTS = new Settings(PgFrameDecoder.DEFAULT_SERVER_MAX_MESSAGE_SIZE, 100,
                "15.0 (pageserver)", java.time.Duration.ofSeconds(60), null, TcpSettings.DEFAULTS);

        public Settings {
            if (authenticationTimeout == null || authenticationTimeout.isNegative() || authenticationTimeout.isZero()) {
                throw new IllegalArgumentException("authenticationTimeout must be positive: " + authenticationTimeout);
            }
            if (maxMessageSize < 1024) {
                throw new IllegalArgumentException("maxMessageSize must be at least 1024: " + maxMessageSize);
            }
            if (maxConnections < 1) {
                throw new IllegalArgumentException("maxConnections must be positive: " + maxConnections);
            }
            if (tcp == null) {
                throw new IllegalArgumentException("tcp settings are required");
            }
        }

        public Settings withMaxMessageSize(int v) {
            return new Settings(v, maxConnections, serverVersion, authenticationTimeout, dispatcher, tcp);
        }

        public Settings withMaxConnections(int v) {
            return new Settings(maxMessageSize, v, serverVersion, authenticationTimeout, dispatcher, tcp);
        }

        public Settings withServerVersion(String v) {
            return new Settings(maxMessageSize, maxConnections, v, authenticationTimeout, dispatcher, tcp);
        }

        public Settings withAuthenticationTimeout(java.time.Duration v) {
            return new Settings(maxMessageSize, maxConnections, serverVersion, v, dispatcher, tcp);
        }

        public Settings withDispatcher(String v) {
            return new Settings(maxMessageSize, maxConnections, serverVersion, authenticationTimeout, v, tcp);
        }

        public Settings withTcp(TcpSettings v) {
            return new Settings(maxMessageSize, maxConnections, serverVersion, authenticationTimeout, dispatcher, v);
        }
    }

    private final NioTcpServer binding;
    private final ConnectionRegistry registry;
    private final AtomicInteger open;
    private final LongAdder passwordFailures;
    private final Cancellable unbindTask;
    private final Cancellable terminateTask;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private PgWireServer(NioTcpServer binding, ConnectionRegistry registry, AtomicInteger open,
                         LongAdder passwordFailures,
                         Cancellable unbindTask, Cancellable terminateTask) {
        this.binding = binding;
        this.registry = registry;
        this.open = open;
        this.passwordFailures = passwordFailures;
        this.unbindTask = unbindTask;
        this.terminateTask = terminateTask;
    }

    public static CompletionStage<PgWireServer> start(ActorSystem<?> system, String host, int port,
                                                      Authenticator auth, PgSessionHandler handler) {
        return start(system, host, port, auth, handler, Settings.DEFAULTS);
    }

    /** Binds {@code host:port} (port 0: any free port, see {@link #localAddress()}). */
    public static CompletionStage<PgWireServer> start(ActorSystem<?> system, String host, int port,
                                                      Authenticator auth, PgSessionHandler handler,
                                                      Settings settings) {
        ConnectionRegistry registry = new ConnectionRegistry();
        AtomicInteger open = new AtomicInteger();
        LongAdder passwordFailures = new LongAdder();
        Materializer mat = Materializer.matFromSystem(system);
        Attributes attributes = settings.dispatcher() == null ? Attributes.none()
                : ActorAttributes.dispatcher(settings.dispatcher());
        CompletionStage<NioTcpServer> bound = NioTcpServer.bind(host, port, settings.tcp(), conn -> {
            boolean overLimit = open.incrementAndGet() > settings.maxConnections();
            if (overLimit) {
                registry.refused();
            }
            PgServerStage.Context ctx = new PgServerStage.Context(auth, handler, settings,
                    conn.remoteAddress(), registry, overLimit, passwordFailures, open::decrementAndGet);
            log.debug("connection from {}", conn.remoteAddress());
            try {
                conn.handleWith(Flow.fromGraph(new PgServerStage(ctx)), mat, attributes);
            } catch (RuntimeException e) {
                open.decrementAndGet();
                throw e;
            }
        });
        return bound.thenApply(b -> {
            system.getWhenTerminated().thenRun(b::terminate);
            CoordinatedShutdown cs = CoordinatedShutdown.get(system);
            Cancellable unbind = cs.addCancellableTask(CoordinatedShutdown.PhaseServiceUnbind(),
                    "pgwire-unbind-" + b.localAddress().getPort(), b::unbind);
            Cancellable terminate = cs.addCancellableTask(CoordinatedShutdown.PhaseServiceRequestsDone(),
                    "pgwire-terminate-" + b.localAddress().getPort(), registry::terminateAll);
            log.info("pgwire listening on {}", b.localAddress());
            return new PgWireServer(b, registry, open, passwordFailures, unbind, terminate);
        });
    }

    /** The address actually bound (the real port when started with port 0). */
    public InetSocketAddress localAddress() {
        return binding.localAddress();
    }

    /** Password authentications that failed (28P01): wrong passwords and unknown users alike. */
    public long passwordFailures() {
        return passwordFailures.sum();
    }

    /** Connections accepted and not yet closed (including ones still authenticating). */
    public int openConnections() {
        return open.get();
    }

    /** Connections refused because max-connections were open. */
    public long refusedConnections() {
        return registry.refusedCount();
    }

    /** Password authentications that failed (unknown users included). */
    public long authenticationFailures() {
        return registry.authFailureCount();
    }

    /** Stops accepting connections; open ones continue. */
    public CompletionStage<Done> unbind() {
        return binding.unbind();
    }

    /**
     * Unbinds, then ends every authenticated session with FATAL 57P01 "terminating connection
     * due to administrator command"; completes when they have closed.
     */
    public CompletionStage<Done> shutdown() {
        if (!stopped.compareAndSet(false, true)) {
            return CompletableFuture.completedFuture(Done.getInstance());
        }
        unbindTask.cancel();
        terminateTask.cancel();
        return unbind().thenCompose(d -> registry.terminateAll());
    }

    /**
     * The per-connection protocol flow on its own, without a listener: for running the server
     * protocol over some other transport or in tests.
     */
    public static Flow<ByteString, ByteString, org.apache.pekko.NotUsed> connectionFlow(
            Authenticator auth, PgSessionHandler handler, Settings settings, InetSocketAddress remote) {
        PgServerStage.Context ctx = new PgServerStage.Context(auth, handler, settings, remote,
                new ConnectionRegistry(), false, new LongAdder(), null);
        return Flow.fromGraph(new PgServerStage(ctx));
    }
}
