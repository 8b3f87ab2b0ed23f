package org.pageserver;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.pageserver.engine.StoreOpens;
import org.pageserver.http.HttpApi;
import org.pageserver.http.HttpAuth;
import org.pageserver.http.HttpListener;
import org.pageserver.metrics.Metrics;
import org.pageserver.server.Sessions;
import org.pageserver.streams.pgwire.PgWireServer;
import org.pageserver.streams.tcp.TcpSettings;
import org.pageserver.tenant.Tenants;

/**
 * The guardian of the process: the tenants, the pgwire listener and, once that is bound, the
 * HTTP listener. A listener that cannot bind shuts the actor system down with {@link
 * #BIND_FAILED} as its reason, since nothing could reach it (or an operator who asked for it
 * would not get it); {@code Main} turns that into a non-zero exit status. The process itself is
 * not ended here: a pageserver embedded in a test JVM must fail alone.
 */
public final class PageServer {

    /** The reason the system shuts down when a listener cannot bind. */
    public static final CoordinatedShutdown.Reason BIND_FAILED = new CoordinatedShutdown.Reason() {
        @Override
        public String toString() {
            return "BindFailed";
        }
    };

    public sealed interface Command permits Bound, BindFailed, HttpBound {
    }

    private record Bound(PgWireServer server) implements Command {
    }

    private record BindFailed(String listener, Throwable cause) implements Command {
    }

    private record HttpBound(ServerBinding binding) implements Command {
    }

    public static Behavior<Command> create(Settings settings, Tenants.Bootstrap bootstrap) {
        return create(settings, bootstrap, Optional.empty());
    }

    /**
     * The reason the system shuts down after a start check ({@code pageserver.start-check}): the
     * listeners bound, nothing else to do. {@code Main} exits with status 0.
     */
    public static final CoordinatedShutdown.Reason START_CHECKED = new CoordinatedShutdown.Reason() {
        @Override
        public String toString() {
            return "StartChecked";
        }
    };

    /** {@code opens}: the tenants' stores, already being opened by the process (see {@link StoreOpens}). */
    public static Behavior<Command> create(Settings settings, Tenants.Bootstrap bootstrap, Optional<StoreOpens> opens) {
        return Behaviors.setup(ctx -> {
            Metrics metrics = Metrics.fromConfig(ctx.getSystem().settings().config());
            Optional<HttpListener.Address> http = HttpListener.Address.fromConfig(ctx.getSystem().settings().config());
            com.typesafe.config.Config config = ctx.getSystem().settings().config();
            boolean startCheck = config.hasPath("pageserver.start-check") && config.getBoolean("pageserver.start-check");
            ActorRef<Tenants.Command> tenants = ctx.spawn(Tenants.create(settings, bootstrap, metrics, opens), "tenants");
            Sessions sessions = new Sessions(ctx.getSystem(), tenants, settings, metrics);
            ctx.pipeToSelf(PgWireServer.start(ctx.getSystem(), settings.listenHost(), settings.listenPort(),
                    sessions.authenticator(), sessions,
                    PgWireServer.Settings.DEFAULTS.withMaxConnections(settings.maxConnections())
                        .withAuthenticationTimeout(settings.authTimeout())
                        .withMaxMessageSize(settings.maxMessageSize())
                        .withDispatcher(Settings.SERVING_DISPATCHER)
                        .withTcp(TcpSettings.DEFAULTS.withIdleSpinNanos(settings.selectorIdleSpin().toNanos()))),
                (b, e) -> e != null ? new BindFailed(settings.listenHost() + ":" + settings.listenPort(), e)
                    : new Bound(b));
            AtomicBoolean listening = new AtomicBoolean();
            return Behaviors.receive(Command.class)
                .onMessage(Bound.class, m -> {
                    // the server unbinds itself in CoordinatedShutdown's service-unbind phase
                    ctx.getLog().info("pageserver listening on {} (data in {})", m.server().localAddress(),
                        settings.dataDir());
                    PgWireServer pg = m.server();
                    metrics.pgwire(pg::openConnections, pg::refusedConnections, pg::authenticationFailures);
                    listening.set(true);
                    CoordinatedShutdown.get(ctx.getSystem()).addTask(CoordinatedShutdown.PhaseServiceUnbind(),
                        "health-listening", () -> {
                            listening.set(false);
                            return java.util.concurrent.CompletableFuture.completedFuture(org.apache.pekko.Done.done());
                        });
                    if (http.isPresent()) {
                        HttpApi api = new HttpApi(ctx.getSystem(), tenants, metrics, new HttpAuth(sessions, metrics),
                            listening::get, ctx.getSystem().dispatchers()
                                .lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER)));
                        HttpListener.Address a = http.get();
                        ctx.pipeToSelf(HttpListener.bind(ctx.getSystem(), a, api),
                            (b, e) -> e != null ? new BindFailed("http " + a.host() + ":" + a.port(), e) : new HttpBound(b));
                    } else if (startCheck) {
                        startChecked(ctx);
                    }
                    return Behaviors.same();
                })
                .onMessage(HttpBound.class, m -> {
                    ctx.getLog().info("HTTP listening on {} (/metrics, /v1/...)", m.binding().localAddress());
                    if (startCheck) {
                        startChecked(ctx);
                    }
                    return Behaviors.same();
                })
                .onMessage(BindFailed.class, m -> {
                    ctx.getLog().error("cannot listen on {}: {}", m.listener(), Errors.rootMessage(m.cause()));
                    CoordinatedShutdown.get(ctx.getSystem()).run(BIND_FAILED);
                    return Behaviors.same();
                })
                .build();
        });
    }

    private static void startChecked(org.apache.pekko.actor.typed.javadsl.ActorContext<Command> ctx) {
        ctx.getLog().info("start check passed: every listener bound; stopping");
        CoordinatedShutdown.get(ctx.getSystem()).run(START_CHECKED);
    }
}
