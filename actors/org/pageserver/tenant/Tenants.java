package org.pageserver.tenant;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.pageserver.Settings;
import org.pageserver.Errors;
import org.pageserver.engine.SharedPageCache;
import org.pageserver.metrics.Metrics;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/**
 * The guardian of all tenants: one {@link TenantSupervisor} per system_id. Re-attaches every
 * tenant found under the data directory at start-up, and creates new ones on
 * {@code callmemaybe}: the primary is identified, its base backup imported once, and from then
 * on the tenant follows its WAL by itself.
 */
public final class Tenants {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Tenants.class);

    public sealed interface Command permits CallMeMaybe, GetStatus, GetTenant, Identified, Imported, ImportFailed,
        Attached, AttachFailed, TenantStopped {
    }

    /** Start following the primary at {@code conninfo} (idempotent). */
    public record CallMeMaybe(String conninfo, ActorRef<CallMeMaybeReply> replyTo) implements Command {
    }

    public sealed interface CallMeMaybeReply {
    }

    public record Following(SystemId systemId, boolean created) implements CallMeMaybeReply {
    }

    public record CallMeMaybeFailed(String message) implements CallMeMaybeReply {
    }

    /** One status row per tenant, ordered by system_id. */
    public record GetStatus(ActorRef<List<TenantSupervisor.TenantStatus>> replyTo) implements Command {
    }

    public record GetTenant(SystemId systemId, ActorRef<Optional<ActorRef<TenantSupervisor.Command>>> replyTo)
        implements Command {
    }

    /**
     * Blocking steps of creating a tenant, run on the blocking dispatcher. Production: the
     * replication connection ({@link ReplicationBootstrap}); tests may substitute their own.
     */
    public interface Bootstrap {
        /** Connects to the primary and returns its system_id. */
        SystemId identify(String conninfo);

        /** Takes a base backup of the primary into a new store in {@code dir}; returns it open, metadata written. */
        TenantStore importTenant(String conninfo, SystemId expected, Path dir);

        /** Where the tenant's WAL comes from. */
        WalStream.WalSourceFactory walSources();
    }

    private record Identified(String conninfo, SystemId systemId, Throwable failure,
                              ActorRef<CallMeMaybeReply> replyTo) implements Command {
    }

    private record Imported(SystemId systemId, TenantStore store, TenantMeta meta) implements Command {
    }

    private record ImportFailed(SystemId systemId, Throwable failure) implements Command {
    }

    private record Attached(TenantStore store, TenantMeta meta) implements Command {
    }

    private record AttachFailed(Path dir, Throwable failure) implements Command {
    }

    private record TenantStopped(SystemId systemId) implements Command {
    }

    public static Behavior<Command> create(Settings settings, Bootstrap bootstrap, Metrics metrics) {
        return Behaviors.setup(ctx -> new Tenants(ctx, settings, bootstrap, metrics).start());
    }

    private final ActorContext<Command> ctx;
    private final Settings settings;
    private final Bootstrap bootstrap;
    private final Metrics metrics;
    private final Executor blocking;
    private final Map<SystemId, ActorRef<TenantSupervisor.Command>> tenants = new HashMap<>();
    /** One page cache for every tenant: one memory budget, whatever their number. */
    private final SharedPageCache pageCache;
    private final Map<SystemId, List<ActorRef<CallMeMaybeReply>>> importing = new HashMap<>();

    private Tenants(ActorContext<Command> ctx, Settings settings, Bootstrap bootstrap, Metrics metrics) {
        this.metrics = metrics;
        this.ctx = ctx;
        this.settings = settings;
        this.bootstrap = bootstrap;
        this.pageCache = new SharedPageCache(settings.pageCacheBytes());
        this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
    }

    private Behavior<Command> start() throws IOException {
        Files.createDirectories(settings.tenantsDir());
        try (Stream<Path> dirs = Files.list(settings.tenantsDir())) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> openExisting(dir), blocking),
                    (a, e) -> e != null ? new AttachFailed(dir, e) : a);
            }
        }
        return Behaviors.receive(Command.class)
            .onMessage(CallMeMaybe.class, this::onCallMeMaybe)
            .onMessage(Identified.class, this::onIdentified)
            .onMessage(Imported.class, this::onImported)
            .onMessage(ImportFailed.class, this::onImportFailed)
            .onMessage(Attached.class, m -> {
                spawnTenant(m.store(), m.meta());
                return Behaviors.same();
            })
            .onMessage(AttachFailed.class, m -> {
                ctx.getLog().error("cannot re-attach tenant in {}: {}", m.dir(), m.failure().toString());
                return Behaviors.same();
            })
            .onMessage(GetStatus.class, this::onStatus)
            .onMessage(GetTenant.class, m -> {
                m.replyTo().tell(Optional.ofNullable(tenants.get(m.systemId())));
                return Behaviors.same();
            })
            .onMessage(TenantStopped.class, m -> {
                tenants.remove(m.systemId());
                return Behaviors.same();
            })
            .build();
    }

    /** Blocking. A directory without metadata is an import that never finished: it is removed. */
    private Attached openExisting(Path dir) {
        TenantStore store = TenantStore.open(dir, settings.storageSync(), settings.storageMemory());
        Optional<TenantMeta> meta = store.meta();
        if (meta.isEmpty()) {
            store.close();
            deleteTree(dir);
            throw new IllegalStateException("incomplete import in " + dir + " removed");
        }
        LOG.info("re-attaching tenant {} ({})", meta.get().systemId(), dir);
        return new Attached(store, meta.get());
    }

    private Behavior<Command> onCallMeMaybe(CallMeMaybe m) {
        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> bootstrap.identify(m.conninfo()), blocking),
            (id, e) -> new Identified(m.conninfo(), id, e, m.replyTo()));
        return Behaviors.same();
    }

    private Behavior<Command> onIdentified(Identified m) {
        if (m.failure() != null) {
            m.replyTo().tell(new CallMeMaybeFailed("cannot connect to the primary: " + Errors.rootMessage(m.failure())));
            return Behaviors.same();
        }
        SystemId id = m.systemId();
        if (tenants.containsKey(id)) {
            m.replyTo().tell(new Following(id, false));
            return Behaviors.same();
        }
        List<ActorRef<CallMeMaybeReply>> waiting = importing.get(id);
        if (waiting != null) {
            waiting.add(m.replyTo());
            return Behaviors.same();
        }
        waiting = new ArrayList<>();
        waiting.add(m.replyTo());
        importing.put(id, waiting);
        Path dir = settings.tenantsDir().resolve(id.toString());
        ctx.getLog().info("new tenant {}: importing a base backup from {}", id, TenantSupervisor.redact(m.conninfo()));
        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> bootstrap.importTenant(m.conninfo(), id, dir), blocking),
            (store, e) -> e != null ? new ImportFailed(id, e) : new Imported(id, store, store.meta().orElseThrow()));
        return Behaviors.same();
    }

    private Behavior<Command> onImported(Imported m) {
        spawnTenant(m.store(), m.meta());
        ctx.getLog().info("tenant {} imported: consistent at {}", m.systemId(), m.meta().consistentLsn());
        for (ActorRef<CallMeMaybeReply> r : importing.remove(m.systemId())) {
            r.tell(new Following(m.systemId(), true));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onImportFailed(ImportFailed m) {
        ctx.getLog().error("import of tenant {} failed", m.systemId(), m.failure());
        for (ActorRef<CallMeMaybeReply> r : importing.remove(m.systemId())) {
            r.tell(new CallMeMaybeFailed("base backup import failed: " + Errors.rootMessage(m.failure())));
        }
        return Behaviors.same();
    }

    private void spawnTenant(TenantStore store, TenantMeta meta) {
        if (tenants.containsKey(meta.systemId())) {
            store.close();
            return;
        }
        TenantMetrics tm = metrics.tenant(meta.systemId());
        tm.attach(store);
        ctx.getLog().info("tenant {} attached: consistent at {}, primary {}", meta.systemId(), meta.consistentLsn(),
            TenantSupervisor.redact(meta.conninfo()));
        ActorRef<TenantSupervisor.Command> t = ctx.spawn(
            Behaviors.supervise(TenantSupervisor.create(store, meta, settings, bootstrap.walSources(), tm, pageCache))
                .onFailure(SupervisorStrategy.stop()), "tenant-" + meta.systemId());
        ctx.watchWith(t, new TenantStopped(meta.systemId()));
        tenants.put(meta.systemId(), t);
    }

    private Behavior<Command> onStatus(GetStatus m) {
        List<ActorRef<TenantSupervisor.Command>> refs = new ArrayList<>(tenants.values());
        ctx.spawnAnonymous(StatusAggregator.create(refs, m.replyTo(), Duration.ofSeconds(5)));
        return Behaviors.same();
    }

    /** Collects one status row per tenant; a tenant that does not answer in time is left out. */
    static final class StatusAggregator {
        private record Row(TenantSupervisor.TenantStatus status) {
        }

        static Behavior<Object> create(List<ActorRef<TenantSupervisor.Command>> tenants,
                                       ActorRef<List<TenantSupervisor.TenantStatus>> replyTo, Duration timeout) {
            return Behaviors.setup(ctx -> {
                List<TenantSupervisor.TenantStatus> rows = new ArrayList<>();
                if (tenants.isEmpty()) {
                    replyTo.tell(rows);
                    return Behaviors.stopped();
                }
                ActorRef<TenantSupervisor.TenantStatus> adapter =
                    ctx.messageAdapter(TenantSupervisor.TenantStatus.class, Row::new).unsafeUpcast();
                for (ActorRef<TenantSupervisor.Command> t : tenants) {
                    t.tell(new TenantSupervisor.GetStatus(null, adapter));
                }
                return Behaviors.withTimers(timers -> {
                    timers.startSingleTimer("timeout", timeout);
                    return Behaviors.receive(Object.class)
                        .onMessage(Row.class, r -> {
                            rows.add(r.status());
                            if (rows.size() == tenants.size()) {
                                return done(rows, replyTo);
                            }
                            return Behaviors.same();
                        })
                        .onMessageEquals("timeout", () -> done(rows, replyTo))
                        .build();
                });
            });
        }

        private static Behavior<Object> done(List<TenantSupervisor.TenantStatus> rows,
                                             ActorRef<List<TenantSupervisor.TenantStatus>> replyTo) {
            rows.sort(Comparator.comparing(TenantSupervisor.TenantStatus::systemId));
            replyTo.tell(List.copyOf(rows));
            return Behaviors.stopped();
        }
    }


    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
