package org.pageserver.tenant;

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
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.pageserver.Settings;
import org.pageserver.Errors;
import org.pageserver.engine.SharedPageCache;
import org.pageserver.engine.StoreOpens;
import org.pageserver.engine.TenantDirectories;
import org.pageserver.metrics.Metrics;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.DiskFull;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/**
 * The guardian of all tenants: one {@link TenantSupervisor} per system_id. Re-attaches every
 * tenant found under the data directory at start-up, and creates new ones on
 * {@code callmemaybe}: the primary is identified, its base backup imported once, and from then
 * on the tenant follows its WAL by itself.
 *
 * <p>{@code detach} stops a tenant and forgets it. Its data either goes (with its slot on the
 * primary), or moves from {@code tenants/} to {@code detached/} in the data directory, which is
 * what makes the detach durable: start-up attaches only what is under {@code tenants/}, and a
 * later {@code callmemaybe} for the same primary moves it back and resumes where it stopped.
 */
public final class Tenants {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Tenants.class);

    public sealed interface Command permits CallMeMaybe, GetStatus, GetTenant, Identified, Imported, ImportFailed,
        Attached, AttachFailed, Reattach, TenantStopped, Detach, DetachDone {
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

    /**
     * Stop following the tenant and forget it. Without {@code delete} its data stays (under
     * {@code detached/}) for a later callmemaybe; with it, the data is removed and the slot on
     * the primary dropped if the primary can be reached.
     */
    public record Detach(SystemId systemId, boolean delete, ActorRef<DetachReply> replyTo) implements Command {
    }

    public sealed interface DetachReply {
    }

    /** {@code slot}: "kept" (no delete), "dropped", or "not dropped: " and why. */
    public record Detached(SystemId systemId, boolean deleted, String slot) implements DetachReply {
    }

    public record DetachFailed(DetachFailure reason, String message) implements DetachReply {
    }

    public enum DetachFailure {
        /** No such tenant. */
        UNKNOWN_TENANT,
        /** It is being imported or detached right now. */
        BUSY,
        /** Its data could not be moved or removed. */
        FAILED
    }

    public record GetTenant(SystemId systemId, ActorRef<Optional<ActorRef<TenantSupervisor.Command>>> replyTo)
        implements Command {
    }

    /**
     * Blocking steps of creating (and deleting) a tenant, run on the blocking dispatcher.
     * Production: the replication connection ({@link ReplicationBootstrap}); tests may
     * substitute their own.
     */
    public interface Bootstrap {
        /** Connects to the primary and returns its system_id. */
        SystemId identify(String conninfo);

        /** Takes a base backup of the primary into a new store in {@code dir}; returns it open, metadata written. */
        TenantStore importTenant(String conninfo, SystemId expected, Path dir);

        /** Where the tenant's WAL comes from. */
        WalStream.WalSourceFactory walSources();

        /** Drops the tenant's replication slot on the primary (a slot already gone is no error). */
        void dropSlot(String conninfo, String slotName);
    }

    private record Identified(String conninfo, SystemId systemId, Throwable failure,
                              ActorRef<CallMeMaybeReply> replyTo) implements Command {
    }

    /** {@code created}: imported from the primary now; false: a detached tenant re-attached. */
    private record Imported(SystemId systemId, TenantStore store, TenantMeta meta, boolean created) implements Command {
    }

    private record ImportFailed(SystemId systemId, Throwable failure) implements Command {
    }

    private record Attached(StoreOpens.Opened opened) implements Command {
    }

    private record AttachFailed(Path dir, Throwable failure) implements Command {
    }

    /** Opening the store in {@code dir} again, after it failed on a full disk. */
    private record Reattach(Path dir) implements Command {
    }

    private record TenantStopped(SystemId systemId) implements Command {
    }

    private record DetachDone(Detach request, Detached result, Throwable failure) implements Command {
    }

    /**
     * {@code opens}: the stores' opens, when the process started them before the actor system
     * (Main does, so that a restart waits for RocksDB's replay and the JVM's start at once);
     * empty, they are started here.
     */
    public static Behavior<Command> create(Settings settings, Bootstrap bootstrap, Metrics metrics,
                                           Optional<StoreOpens> opens) {
        return Behaviors.setup(ctx -> new Tenants(ctx, settings, bootstrap, metrics).start(opens));
    }

    private final ActorContext<Command> ctx;
    private final Settings settings;
    private final Bootstrap bootstrap;
    private final Metrics metrics;
    private final Executor blocking;
    private final Map<SystemId, ActorRef<TenantSupervisor.Command>> tenants = new HashMap<>();
    /** One page cache for every tenant: one memory budget, whatever their number. */
    private final SharedPageCache pageCache;
    private final Map<SystemId, TenantMeta> metas = new HashMap<>();
    private final TenantDirectories dirs;
    /** Tenant directories whose store did not open on a full disk, opened again until it does. */
    private final java.util.Set<Path> waitingForSpace = new java.util.HashSet<>();
    private final Map<SystemId, List<ActorRef<CallMeMaybeReply>>> importing = new HashMap<>();
    /** Tenants being stopped or whose data is being moved or removed, and who asked. */
    private final Map<SystemId, Detach> detaching = new HashMap<>();

    private Tenants(ActorContext<Command> ctx, Settings settings, Bootstrap bootstrap, Metrics metrics) {
        this.metrics = metrics;
        this.ctx = ctx;
        this.settings = settings;
        this.bootstrap = bootstrap;
        this.pageCache = new SharedPageCache(settings.pageCacheBytes());
        this.dirs = new TenantDirectories(settings.dataDir());
        this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
    }

    private Behavior<Command> start(Optional<StoreOpens> started) {
        StoreOpens opens = started.orElseGet(() -> StoreOpens.start(settings.dataDir(), settings.storageSync(),
            settings.storageMemory(), blocking));
        for (StoreOpens.Opening o : opens.openings()) {
            ctx.pipeToSelf(o.result(), (a, e) -> e != null ? new AttachFailed(o.dir(), e) : new Attached(a));
        }
        return Behaviors.receive(Command.class)
            .onMessage(CallMeMaybe.class, this::onCallMeMaybe)
            .onMessage(Identified.class, this::onIdentified)
            .onMessage(Imported.class, this::onImported)
            .onMessage(ImportFailed.class, this::onImportFailed)
            .onMessage(Attached.class, m -> {
                if (waitingForSpace.remove(m.opened().store().dir())) {
                    ctx.getLog().info("tenant in {}: disk space available again, re-attached", m.opened().store().dir());
                }
                spawnTenant(m.opened().store(), m.opened().meta());
                return Behaviors.same();
            })
            .onMessage(AttachFailed.class, this::onAttachFailed)
            .onMessage(Reattach.class, m -> {
                reattach(m.dir());
                return Behaviors.same();
            })
            .onMessage(GetStatus.class, this::onStatus)
            .onMessage(GetTenant.class, m -> {
                m.replyTo().tell(Optional.ofNullable(tenants.get(m.systemId())));
                return Behaviors.same();
            })
            .onMessage(TenantStopped.class, this::onTenantStopped)
            .onMessage(Detach.class, this::onDetach)
            .onMessage(DetachDone.class, this::onDetachDone)
            .build();
    }

    private void reattach(Path dir) {
        ctx.pipeToSelf(CompletableFuture.supplyAsync(
                () -> StoreOpens.open(dir, settings.storageSync(), settings.storageMemory()), blocking),
            (a, e) -> e != null ? new AttachFailed(dir, e) : new Attached(a));
    }

    /**
     * A store that does not open on a full disk (RocksDB writes a new log and manifest at every
     * open) is opened again every pageserver.storage.disk-full-retry until it does, said once;
     * any other failure leaves the tenant detached until the next start.
     */
    private Behavior<Command> onAttachFailed(AttachFailed m) {
        Optional<String> full = DiskFull.detail(m.failure());
        if (full.isEmpty()) {
            ctx.getLog().error("cannot re-attach tenant in {}: {}", m.dir(), m.failure().toString());
            return Behaviors.same();
        }
        if (waitingForSpace.add(m.dir())) {
            ctx.getLog().error("cannot re-attach tenant in {}: disk full, retrying every {}: {}", m.dir(),
                WalStream.asConfigured(settings.diskFullRetry()), full.get());
        }
        ctx.scheduleOnce(settings.diskFullRetry(), ctx.getSelf(), new Reattach(m.dir()));
        return Behaviors.same();
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
        if (detaching.containsKey(id)) {
            m.replyTo().tell(new CallMeMaybeFailed("tenant " + id + " is being detached: try again once it is"));
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
        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> reattachOrImport(m.conninfo(), id), blocking),
            (imported, e) -> e != null ? new ImportFailed(id, e) : imported);
        return Behaviors.same();
    }

    private Behavior<Command> onImported(Imported m) {
        spawnTenant(m.store(), m.meta());
        if (m.created()) {
            ctx.getLog().info("tenant {} imported: consistent at {}", m.systemId(), m.meta().consistentLsn());
        }
        for (ActorRef<CallMeMaybeReply> r : importing.remove(m.systemId())) {
            r.tell(new Following(m.systemId(), m.created()));
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
        metas.put(meta.systemId(), meta);
    }

    /**
     * Blocking. A tenant detached with its data kept is moved back and opened; any other is
     * imported from the primary.
     */
    private Imported reattachOrImport(String conninfo, SystemId id) {
        Path dir = dirs.attached(id);
        if (dirs.isDetached(id)) {
            LOG.info("tenant {}: re-attaching its detached data", id);
            dirs.reattach(id);
            StoreOpens.Opened a = StoreOpens.open(dir, settings.storageSync(), settings.storageMemory());
            return new Imported(id, a.store(), a.meta(), false);
        }
        LOG.info("new tenant {}: importing a base backup from {}", id, TenantSupervisor.redact(conninfo));
        TenantStore store = bootstrap.importTenant(conninfo, id, dir);
        return new Imported(id, store, store.meta().orElseThrow(), true);
    }

    private Behavior<Command> onDetach(Detach m) {
        SystemId id = m.systemId();
        if (importing.containsKey(id) || detaching.containsKey(id)) {
            m.replyTo().tell(new DetachFailed(DetachFailure.BUSY, "tenant " + id + " is being "
                + (importing.containsKey(id) ? "attached" : "detached") + ": try again once it is"));
            return Behaviors.same();
        }
        ActorRef<TenantSupervisor.Command> t = tenants.get(id);
        if (t == null) {
            m.replyTo().tell(new DetachFailed(DetachFailure.UNKNOWN_TENANT,
                "unknown system_id " + id + ": no such tenant"));
            return Behaviors.same();
        }
        ctx.getLog().info("detaching tenant {}{}", id, m.delete() ? " and deleting its data" : "");
        // its WAL stream stops with it and its store is closed before TenantStopped arrives
        detaching.put(id, m);
        ctx.stop(t);
        return Behaviors.same();
    }

    private Behavior<Command> onTenantStopped(TenantStopped m) {
        SystemId id = m.systemId();
        tenants.remove(id);
        TenantMeta meta = metas.remove(id);
        Detach d = detaching.get(id);
        if (d != null) {
            metrics.forget(id);
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> finishDetach(d, meta), blocking),
                (r, e) -> new DetachDone(d, r, e));
        }
        return Behaviors.same();
    }

    /** Blocking: the tenant is stopped and its store closed. */
    private Detached finishDetach(Detach d, TenantMeta meta) {
        SystemId id = d.systemId();
        if (!d.delete()) {
            dirs.detach(id);
            return new Detached(id, false, "kept");
        }
        String slot;
        try {
            bootstrap.dropSlot(meta.conninfo(), meta.slotName());
            slot = "dropped";
        } catch (RuntimeException e) {
            slot = "not dropped: " + Errors.rootMessage(e);
            LOG.warn("tenant {}: slot {} not dropped on the primary: {}", id, meta.slotName(), Errors.rootMessage(e));
        }
        dirs.delete(id);
        return new Detached(id, true, slot);
    }

    private Behavior<Command> onDetachDone(DetachDone m) {
        SystemId id = m.request().systemId();
        detaching.remove(id);
        if (m.failure() != null) {
            ctx.getLog().error("detaching tenant {} failed", id, m.failure());
            m.request().replyTo().tell(new DetachFailed(DetachFailure.FAILED,
                "detaching tenant " + id + " failed: " + Errors.rootMessage(m.failure())));
        } else {
            ctx.getLog().info("tenant {} detached ({}; slot {})", id, m.result().deleted() ? "data deleted" : "data kept",
                m.result().slot());
            m.request().replyTo().tell(m.result());
        }
        return Behaviors.same();
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
}
