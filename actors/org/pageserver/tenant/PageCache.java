package org.pageserver.tenant;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.PostStop;
import org.pageserver.engine.ImageWrites;
import org.pageserver.engine.LsnWaiters;
import org.pageserver.engine.PageReads;
import org.pageserver.engine.RelSizeCache;
import org.pageserver.engine.SharedPageCache;
import org.pageserver.engine.SharedPageCache.CachedPage;
import org.pageserver.Settings;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.BelowHorizonException;
import org.pageserver.storage.StoreChanges;
import org.pageserver.storage.TenantStore;

/**
 * Answers the reads of one tenant: GetPage@LSN, relation size and existence. Its own job is
 * admission: a request for an LSN the WAL has not reached yet is parked (no thread held,
 * {@link LsnWaiters}) until the WAL-stream actor's watermark passes it, and fails after
 * {@code wait-lsn-timeout}; a request it may serve goes to the process-wide page cache
 * ({@link SharedPageCache}), the size cache ({@link RelSizeCache}), batched storage reads on the
 * read dispatcher ({@link PageReads}), and the redo pool, which answers the requester directly
 * and hands the page back to be cached and, after a long replay, stored ({@link ImageWrites}).
 */
public final class PageCache {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PageCache.class);

    public sealed interface Command permits GetPage, GetRelSize, GetDbSize, WalWatermark, WaitTimedOut,
        FlushReads, HistoriesRead, RelSizeRead, DbSizeRead, Reconstructed {
    }

    /**
     * Block {@code blkno} of {@code rel} as of {@code lsn}; with {@code latest}, as of the newest
     * LSN available once the WAL has reached {@code lsn}.
     */
    public record GetPage(RelTag rel, int blkno, Lsn lsn, boolean latest, ActorRef<PageReply> replyTo)
        implements Command {
    }

    /** Existence and size (nblocks) of a relation fork as of {@code lsn}. */
    public record GetRelSize(RelTag rel, Lsn lsn, boolean latest, ActorRef<RelSizeReply> replyTo)
        implements Command {
    }

    /** Total size in bytes of the relations of database {@code dbNode} as of {@code lsn}. */
    public record GetDbSize(int dbNode, Lsn lsn, boolean latest, ActorRef<DbSizeReply> replyTo) implements Command {
    }

    /**
     * From the WAL-stream actor: every read at or below this LSN can be answered, and
     * {@code changes} are the blocks and relation sizes the WAL up to it changed since the
     * previous watermark (what cached pages and sizes it makes stale).
     */
    public record WalWatermark(Lsn lsn, StoreChanges changes) implements Command {
        public WalWatermark(Lsn lsn) {
            this(lsn, StoreChanges.NONE);
        }
    }

    public sealed interface PageReply {
    }

    /** A page; {@code image} may be the page cache's own array: read it, never write to it. */
    public record Page(byte[] image, Lsn lsn) implements PageReply {
    }

    public record RelSize(boolean exists, int nblocks, Lsn lsn) implements RelSizeReply {
    }

    public record DbSize(long bytes, Lsn lsn) implements DbSizeReply {
    }

    public record ReadFailed(String message) implements PageReply, RelSizeReply, DbSizeReply {
    }

    public sealed interface DbSizeReply {
    }

    public sealed interface RelSizeReply {
    }

    private record WaitTimedOut(long id) implements Command {
    }

    /**
     * Sent to self when the first read of a mailbox run misses: the misses that arrive before
     * it (the requests already queued) go to the read dispatcher as one task, one thread switch
     * for all of them instead of one each.
     */
    private enum FlushReads implements Command { INSTANCE }

    /** The reads of a storage task, answered already ({@code answered}) or failed as a whole. */
    private record HistoriesRead(List<PageReads.Read<GetPage>> reads, boolean answered) implements Command {
    }

    /**
     * From a redo worker: {@code page} is the block as of {@code lsn}, rebuilt by replaying
     * {@code replayed} records of which the last ended at {@code lastRecordEnd}.
     */
    record Reconstructed(BufferTag key, Lsn lsn, byte[] page, int replayed, Lsn lastRecordEnd) implements Command {
    }

    private record RelSizeRead(GetRelSize request, Lsn lsn, OptionalInt size, Throwable failure) implements Command {
    }

    private record DbSizeRead(GetDbSize request, Lsn lsn, Long bytes, Throwable failure) implements Command {
    }

    /** For tests: a page cache of its own, of the configured size, for tenant 0. */
    public static Behavior<Command> create(TenantStore store, Lsn consistentLsn, Settings settings,
                                           ActorRef<RedoWorker.Command> redo) {
        SystemId id = new SystemId(0);
        return create(store, consistentLsn, false, settings, redo, TenantMetrics.detached(id),
            new SharedPageCache(settings.pageCacheBytes()), id);
    }

    /** @param cache the process-wide page cache, of which this tenant's pages are those of {@code systemId} */
    public static Behavior<Command> create(TenantStore store, Lsn consistentLsn, boolean hintsLogged, Settings settings,
                                           ActorRef<RedoWorker.Command> redo, TenantMetrics metrics,
                                           SharedPageCache cache, SystemId systemId) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new PageCache(ctx, timers, store, consistentLsn, hintsLogged, settings, redo, metrics,
                cache.tenant(systemId)).behavior()));
    }

    private final ActorContext<Command> ctx;
    /** Where redo workers send their pages back: usable from the read threads, unlike ctx. */
    private final ActorRef<Command> self;
    private final TimerScheduler<Command> timers;
    private final Lsn consistentLsn;
    private final Duration waitTimeout;
    private final ActorRef<RedoWorker.Command> redo;
    /** Storage reads of page requests: see Settings.READ_DISPATCHER. */
    private final Executor reads;
    private final LsnWaiters<Command> waiting = new LsnWaiters<>();
    private Lsn watermark = Lsn.INVALID;
    /** This tenant's pages in the process-wide cache. */
    private final SharedPageCache.TenantPages pages;
    /** Relation sizes as of the watermark, kept current by the watermark's changes. */
    private final RelSizeCache sizes = new RelSizeCache();
    private final PageReads<GetPage> storage;
    /** Admission checks the LSN against the store's retention horizon. */
    private final TenantStore store;
    private final ImageWrites images;
    private List<PageReads.Pending<GetPage>> pendingReads = new ArrayList<>();

    private final boolean hintsLogged;
    private final TenantMetrics metrics;

    private PageCache(ActorContext<Command> ctx, TimerScheduler<Command> timers, TenantStore store, Lsn consistentLsn,
                      boolean hintsLogged, Settings settings, ActorRef<RedoWorker.Command> redo, TenantMetrics metrics,
                      SharedPageCache.TenantPages pages) {
        this.metrics = metrics;
        this.hintsLogged = hintsLogged;
        this.ctx = ctx;
        this.self = ctx.getSelf();
        this.timers = timers;
        this.consistentLsn = consistentLsn;
        this.waitTimeout = settings.waitLsnTimeout();
        this.redo = redo;
        this.pages = pages;
        // a previous incarnation's pages were current as of a watermark this one does not know
        pages.clear();
        this.storage = new PageReads<>(store);
        this.store = store;
        this.images = new ImageWrites(store, settings.materializeAfter(),
            ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER)));
        this.reads = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.READ_DISPATCHER));
    }

    private Behavior<Command> behavior() {
        return Behaviors.receive(Command.class)
            .onMessage(GetPage.class, m -> {
                admit(m, m.lsn(), m.latest(), m.replyTo());
                return Behaviors.same();
            })
            .onMessage(GetRelSize.class, m -> {
                admit(m, m.lsn(), m.latest(), m.replyTo());
                return Behaviors.same();
            })
            .onMessage(GetDbSize.class, m -> {
                admit(m, m.lsn(), m.latest(), m.replyTo());
                return Behaviors.same();
            })
            .onMessage(WalWatermark.class, this::onWatermark)
            .onMessage(WaitTimedOut.class, this::onTimeout)
            .onMessage(FlushReads.class, m -> flushReads())
            .onMessage(HistoriesRead.class, this::onHistoriesRead)
            .onMessage(RelSizeRead.class, this::onRelSize)
            .onMessage(Reconstructed.class, this::onReconstructed)
            .onMessage(DbSizeRead.class, m -> {
                m.request().replyTo().tell(m.failure() != null
                    ? new ReadFailed(PageReads.storageError(m.failure()))
                    : new DbSize(m.bytes(), m.lsn()));
                return Behaviors.same();
            })
            .onSignal(PostStop.class, sig -> {
                // the tenant stopped or was detached: its pages give their room to the others
                pages.clear();
                return Behaviors.same();
            })
            .build();
    }

    private void admit(Command request, Lsn lsn, boolean latest, ActorRef<? super ReadFailed> replyTo) {
        if (!lsn.isValid()) {
            replyTo.tell(new ReadFailed("invalid LSN 0/0"));
            return;
        }
        // with latest, the LSN is only a lower bound: the answer is as of the newest LSN, which
        // is never below the consistent point
        if (!latest && lsn.isBefore(consistentLsn)) {
            replyTo.tell(new ReadFailed("LSN " + lsn + " is below the consistent point " + consistentLsn
                + ": pages are not kept before the initial backup completed"));
            return;
        }
        if (!latest) {
            try {
                store.checkHorizon(lsn);
            } catch (BelowHorizonException e) {
                replyTo.tell(new ReadFailed(e.getMessage()));
                return;
            }
        }
        Lsn target = latest ? Lsn.max(lsn, consistentLsn) : lsn;
        if (!target.isAfter(watermark)) {
            serve(request);
            return;
        }
        long id = waiting.park(target, request);
        timers.startSingleTimer(id, new WaitTimedOut(id), waitTimeout);
    }

    private Behavior<Command> onWatermark(WalWatermark m) {
        if (!m.changes().isEmpty()) {
            forgetStale(m.changes());
        }
        if (!m.lsn().isAfter(watermark)) {
            return Behaviors.same();
        }
        watermark = m.lsn();
        for (LsnWaiters.Waiter<Command> w : waiting.releaseUpTo(watermark)) {
            timers.cancel(w.id());
            metrics.waitedForWal(System.nanoTime() - w.parkedAt());
            serve(w.request());
        }
        return Behaviors.same();
    }

    /**
     * Called before the watermark moves past the changes: a current page of a changed block is
     * still the page as of the old watermark, so it stays, as a base for an incremental read;
     * pages of blocks cut off by a truncation or drop go.
     */
    private void forgetStale(StoreChanges changes) {
        for (BufferTag tag : changes.pages()) {
            CachedPage c = pages.peek(tag);
            if (c != null && c.current()) {
                pages.put(tag, new CachedPage(Lsn.max(c.lsn(), watermark), c.page(), false));
            }
        }
        for (Map.Entry<RelTag, Integer> e : changes.sizes().entrySet()) {
            RelTag rel = e.getKey();
            int size = e.getValue();
            if (!sizes.changed(rel, size)) {
                pages.removeIf(t -> t.rel().equals(rel) && (size < 0 || Integer.compareUnsigned(t.blkno(), size) >= 0));
            }
        }
    }

    /** Caches a page as of {@code lsn}, unless a better one (current, or newer) is cached already. */
    private void remember(BufferTag key, Lsn lsn, byte[] page) {
        boolean current = lsn.equals(watermark);
        CachedPage existing = pages.peek(key);
        if (!current && existing != null && (existing.current() || existing.lsn().isAfter(lsn))) {
            return;
        }
        pages.put(key, new CachedPage(lsn, page, current));
        metrics.cacheSize(pages.size(), pages.evictions());
    }

    private Behavior<Command> onTimeout(WaitTimedOut m) {
        LsnWaiters.Waiter<Command> w = waiting.remove(m.id());
        if (w == null) {
            return Behaviors.same();
        }
        String msg = "WAL up to " + w.lsn() + " was not received within " + waitTimeout.toMillis()
            + " ms (received up to " + watermark + ")";
        if (w.request() instanceof GetPage g) {
            g.replyTo().tell(new ReadFailed(msg));
        } else if (w.request() instanceof GetRelSize r) {
            r.replyTo().tell(new ReadFailed(msg));
        } else if (w.request() instanceof GetDbSize d) {
            d.replyTo().tell(new ReadFailed(msg));
        }
        return Behaviors.same();
    }

    private void serve(Command request) {
        if (request instanceof GetPage g) {
            Lsn lsn = g.latest() ? watermark : g.lsn();
            BufferTag tag = new BufferTag(g.rel(), g.blkno());
            CachedPage cached = pages.get(tag);
            if (cached != null && cached.current() && !cached.lsn().isAfter(lsn)) {
                // nothing touched the block between the cached LSN and the watermark
                metrics.cacheHit();
                g.replyTo().tell(new Page(cached.page(), lsn));
                return;
            }
            metrics.cacheMiss();
            CachedPage base = cached != null && !cached.lsn().isAfter(lsn) ? cached : null;
            Integer knownSize = lsn.equals(watermark) ? sizes.known(g.rel()) : null;
            if (pendingReads.isEmpty()) {
                ctx.getSelf().tell(FlushReads.INSTANCE);
            }
            pendingReads.add(new PageReads.Pending<>(g, tag, lsn, base, knownSize));
        } else if (request instanceof GetRelSize s) {
            Lsn lsn = s.latest() ? watermark : s.lsn();
            Integer known = lsn.equals(watermark) ? sizes.known(s.rel()) : null;
            if (known != null) {
                s.replyTo().tell(new RelSize(known >= 0, Math.max(known, 0), lsn));
                return;
            }
            metrics.storageReads(1);
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> storage.relSize(s.rel(), lsn), reads),
                (size, e) -> new RelSizeRead(s, lsn, size, e));
        } else if (request instanceof GetDbSize d) {
            Lsn lsn = d.latest() ? watermark : d.lsn();
            metrics.storageReads(1);
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> storage.dbSize(d.dbNode(), lsn), reads),
                (bytes, e) -> new DbSizeRead(d, lsn, bytes, e));
        }
    }

    private Behavior<Command> flushReads() {
        List<PageReads.Pending<GetPage>> all = pendingReads;
        pendingReads = new ArrayList<>();
        metrics.storageReads(all.size());
        for (int from = 0; from < all.size(); from += PageReads.MAX_READS_PER_TASK) {
            List<PageReads.Pending<GetPage>> batch =
                all.subList(from, Math.min(all.size(), from + PageReads.MAX_READS_PER_TASK));
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> answer(storage.readAll(batch)), reads),
                (rs, e) -> e != null
                    ? new HistoriesRead(batch.stream().map(r -> PageReads.failed(r, e)).toList(), false)
                    : new HistoriesRead(rs, true));
        }
        return Behaviors.same();
    }

    /**
     * On the read thread, right after the storage reads: each request is answered from what
     * storage had, or sent to the redo pool, from here, so that the answer does not wait for its
     * way back through this actor's mailbox (one thread hand-off less per miss). What the reads
     * teach the cache (pages, sizes) follows as {@link HistoriesRead}, in the actor. Touches
     * only what is safe from any thread: immutable reads and actor references.
     */
    private List<PageReads.Read<GetPage>> answer(List<PageReads.Read<GetPage>> rs) {
        for (PageReads.Read<GetPage> r : rs) {
            GetPage g = r.request();
            PageReads.Outcome outcome = PageReads.resolve(r);
            if (outcome instanceof PageReads.Failed f) {
                g.replyTo().tell(new ReadFailed(f.message()));
            } else if (outcome instanceof PageReads.Ready ready) {
                g.replyTo().tell(new Page(ready.page(), r.lsn()));
            } else if (outcome instanceof PageReads.Redo rd) {
                redo.tell(new RedoWorker.Reconstruct(r.tag(), r.lsn(), rd.history(), hintsLogged, g.replyTo(), self));
            }
        }
        return rs;
    }

    /**
     * What an answered read teaches the cache: a size read as of the watermark, a page that
     * needed no redo (a redone one comes back as {@link Reconstructed}). A read that failed as a
     * whole (the task itself) is answered here.
     */
    private void onHistory(PageReads.Read<GetPage> r) {
        GetPage g = r.request();
        if (r.sizeRead() != null && r.lsn().equals(watermark)) {
            // read as of the watermark, and no change since: later changes come with the watermark
            sizes.remember(g.rel(), r.sizeRead());
        }
        PageReads.Outcome outcome = PageReads.resolve(r);
        if (outcome instanceof PageReads.Ready ready) {
            // from the cache too: the cached page is now known current at a later LSN
            remember(r.tag(), r.lsn(), ready.page());
        }
    }

    private Behavior<Command> onHistoriesRead(HistoriesRead m) {
        if (!m.answered()) {
            answer(m.reads());
        }
        for (PageReads.Read<GetPage> r : m.reads()) {
            onHistory(r);
        }
        return Behaviors.same();
    }

    private Behavior<Command> onReconstructed(Reconstructed m) {
        remember(m.key(), m.lsn(), m.page());
        if (images.offer(m.key(), m.page(), m.replayed(), m.lastRecordEnd())) {
            metrics.imageCreated();
        }
        return Behaviors.same();
    }

    private Behavior<Command> onRelSize(RelSizeRead m) {
        if (m.failure() != null) {
            m.request().replyTo().tell(new ReadFailed(PageReads.storageError(m.failure())));
        } else {
            if (m.lsn().equals(watermark)) {
                // read as of the watermark, and no change since: later changes come with the watermark
                sizes.remember(m.request().rel(), m.size().orElse(-1));
            }
            m.request().replyTo().tell(new RelSize(m.size().isPresent(), m.size().orElse(0), m.lsn()));
        }
        return Behaviors.same();
    }
}
