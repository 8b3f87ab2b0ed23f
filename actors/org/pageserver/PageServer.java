package org.pageserver;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.pageserver.server.Sessions;
import org.pageserver.streams.pgwire.PgWireServer;
import org.pageserver.streams.tcp.TcpSettings;
import org.pageserver.tenant.Tenants;

/**
 * The guardian of the process: the tenants and the pgwire listener. A listener that cannot
 * bind ends the process with a non-zero status, since nothing could reach it.
 */
public final class PageServer {

    public sealed interface Command permits Bound, BindFailed {
    }

    private record Bound(PgWireServer server) implements Command {
    }

    private record BindFailed(Throwable cause) implements Command {
    }

    public static Behavior<Command> create(Settings settings, Tenants.Bootstrap bootstrap) {
        return Behaviors.setup(ctx -> {
            ActorRef<Tenants.Command> tenants = ctx.spawn(Tenants.create(settings, bootstrap), "tenants");
            Sessions sessions = new Sessions(ctx.getSystem(), tenants, settings);
            ctx.pipeToSelf(PgWireServer.start(ctx.getSystem(), settings.listenHost(), settings.listenPort(),
                    sessions.authenticator(), sessions,
                    PgWireServer.Settings.DEFAULTS.withMaxConnections(settings.maxConnections())
                        .withAuthenticationTimeout(settings.authTimeout())
                        .withMaxMessageSize(settings.maxMessageSize())
                        .withDispatcher(Settings.SERVING_DISPATCHER)
                        .withTcp(TcpSettings.DEFAULTS.withIdleSpinNanos(settings.selectorIdleSpin().toNanos()))),
                (b, e) -> e != null ? new BindFailed(e) : new Bound(b));
            return Behaviors.receive(Command.class)
                .onMessage(Bound.class, m -> {
                    // the server unbinds itself in CoordinatedShutdown's service-unbind phase
                    ctx.getLog().info("pageserver listening on {} (data in {})", m.server().localAddress(),
                        settings.dataDir());
                    return Behaviors.same();
                })
                .onMessage(BindFailed.class, m -> {
                    ctx.getLog().error("cannot listen on {}:{}: {}", settings.listenHost(), settings.listenPort(),
                        Errors.rootMessage(m.cause()));
                    new Thread(() -> System.exit(1), "exit").start();
                    return Behaviors.stopped();
                })
                .build();
        });
    }
}
