package org.pageserver.tenant;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.pageserver.Settings;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.storage.BelowHorizonException;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.StoreChanges;
import org.pageserver.storage.TenantStore;

/**
 * Answers the reads of one tenant: GetPage@LSN, relation size and existence. Requests for an
 * LSN the WAL has not reached yet are parked (no thread held) until the WAL-stream actor's
 * watermark passes them, and fail after {@code wait-lsn-timeout}. Reads run on the blocking
 * dispatcher; the page itself is rebuilt by the redo pool, which answers the requester directly.
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
     * {@code sizeRead}: the relation's size as the read found it in the store (-1: it does not
     * exist), or null when it came from {@link #sizes}; fed back into {@code sizes}.
     */
    private record PageHistoryRead(GetPage request, Lsn lsn, PageHistory history, byte[] cachedPage, String error,
                                   Integer sizeRead) {
    }

    /** A page read that missed the cache, waiting for {@link FlushReads} to go to storage. */
    private record PendingRead(GetPage request, Lsn lsn, CachedPage base, Integer knownSize) {
    }

    /**
     * Sent to self when the first read of a mailbox run misses: the misses that arrive before
     * it (the requests already queued) go to the read dispatcher as one task, one thread switch
     * for all of them instead of one each.
     */
    private enum FlushReads implements Command { INSTANCE }

    private record HistoriesRead(List<PageHistoryRead> reads) implements Command {
    }

    /**
     * From a redo worker: {@code page} is the block as of {@code lsn}, rebuilt by replaying
     * {@code replayed} records of which the last ended at {@code lastRecordEnd}.
     */
    record Reconstructed(BufferTag key, Lsn lsn, byte[] page, int replayed, Lsn lastRecordEnd) implements Command {
    }

    /**
     * A cached page: the block as of {@code lsn}. {@code current}: also as of the watermark,
     * because no WAL up to the watermark touched the block since; such a page answers every
     * read between {@code lsn} and the watermark without touching storage. The page array is
     * never written to once cached.
     */
    private record CachedPage(Lsn lsn, byte[] page, boolean current) {
    }

    private record RelSizeRead(GetRelSize request, Lsn lsn, OptionalInt size, Throwable failure) implements Command {
    }

    private record DbSizeRead(GetDbSize request, Lsn lsn, Long bytes, Throwable failure) implements Command {
    }

    /** A parked request: the original command, its timer id and when it was parked (System.nanoTime). */
    private record Waiter(long id, Command request, long parkedAt) {
    }

    public static Behavior<Command> create(TenantStore store, Lsn consistentLsn, Settings settings,
                                           ActorRef<RedoWorker.Command> redo) {
        return create(store, consistentLsn, false, settings, redo,
            TenantMetrics.detached(new org.pageserver.protocol.SystemId(0)));
    }

    public static Behavior<Command> create(TenantStore store, Lsn consistentLsn, boolean hintsLogged, Settings settings,
                                           ActorRef<RedoWorker.Command> redo, TenantMetrics metrics) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new PageCache(ctx, timers, store, consistentLsn, hintsLogged, settings, redo, metrics).behavior()));
    }

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final TenantStore store;
    private final Lsn consistentLsn;
    private final Duration waitTimeout;
    private final ActorRef<RedoWorker.Command> redo;
    private final Executor blocking;
    /** Storage reads of page requests: see Settings.READ_DISPATCHER. */
    private final Executor reads;
    private final TreeMap<Lsn, List<Waiter>> waiting = new TreeMap<>();
    private final Map<Long, Lsn> waiterLsn = new java.util.HashMap<>();
    private Lsn watermark = Lsn.INVALID;
    private long nextId;
    private final int materializeAfter;
    /** Reconstructed pages. */
    private final ClockCache<BufferTag, CachedPage> lru;
    /** Relation sizes as of the watermark (-1: does not exist), kept current by the watermark's changes. */
    private final Map<RelTag, Integer> sizes = new java.util.HashMap<>();
    private long cacheHits;
    private long materialized;
    private List<PendingRead> pendingReads = new ArrayList<>();
    /** Most reads in one storage task; more misses than this are spread over several tasks. */
    private static final int MAX_READS_PER_TASK = 16;

    private final boolean hintsLogged;
    private final TenantMetrics metrics;

    private PageCache(ActorContext<Command> ctx, TimerScheduler<Command> timers, TenantStore store, Lsn consistentLsn,
                      boolean hintsLogged, Settings settings, ActorRef<RedoWorker.Command> redo, TenantMetrics metrics) {
        this.metrics = metrics;
        this.hintsLogged = hintsLogged;
        this.ctx = ctx;
        this.timers = timers;
        this.store = store;
        this.consistentLsn = consistentLsn;
        this.waitTimeout = settings.waitLsnTimeout();
        this.redo = redo;
        this.materializeAfter = settings.materializeAfter();
        int capacity = settings.pageCachePages();
        this.lru = new ClockCache<>(capacity);
        this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
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
            .onMessage(HistoriesRead.class, m -> {
                for (PageHistoryRead r : m.reads()) {
                    onHistory(r);
                }
                return Behaviors.same();
            })
            .onMessage(RelSizeRead.class, this::onRelSize)
            .onMessage(Reconstructed.class, this::onReconstructed)
            .onMessage(DbSizeRead.class, m -> {
                m.request().replyTo().tell(m.failure() != null
                    ? new ReadFailed(storageError(m.failure()))
                    : new DbSize(m.bytes(), m.lsn()));
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
        long id = nextId++;
        waiting.computeIfAbsent(target, k -> new ArrayList<>()).add(new Waiter(id, request, System.nanoTime()));
        waiterLsn.put(id, target);
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
        Map<Lsn, List<Waiter>> ready = waiting.headMap(watermark, true);
        for (List<Waiter> ws : ready.values()) {
            for (Waiter w : ws) {
                timers.cancel(w.id());
                waiterLsn.remove(w.id());
                metrics.waitedForWal(System.nanoTime() - w.parkedAt());
                serve(w.request());
            }
        }
        ready.clear();
        return Behaviors.same();
    }

    /**
     * Called before the watermark moves past the changes: a current page of a changed block is
     * still the page as of the old watermark, so it stays, as a base for an incremental read;
     * pages of blocks cut off by a truncation or drop go.
     */
    private void forgetStale(StoreChanges changes) {
        for (BufferTag tag : changes.pages()) {
            CachedPage c = lru.peek(tag);
            if (c != null && c.current()) {
                lru.put(tag, new CachedPage(Lsn.max(c.lsn(), watermark), c.page(), false));
            }
        }
        for (Map.Entry<RelTag, Integer> e : changes.sizes().entrySet()) {
            RelTag rel = e.getKey();
            int size = e.getValue();
            Integer known = sizes.put(rel, size);
            boolean grew = known != null && size >= 0 && known >= 0 && Integer.compareUnsigned(size, known) >= 0;
            if (!grew) {
                // shrunk, dropped, created anew, or of unknown size: no cached block past the end may stay
                lru.removeIf(t -> t.rel().equals(rel)
                    && (size < 0 || Integer.compareUnsigned(t.blkno(), size) >= 0));
            }
        }
    }

    /** Caches a page as of {@code lsn}, unless a better one (current, or newer) is cached already. */
    private void remember(BufferTag key, Lsn lsn, byte[] page) {
        boolean current = lsn.equals(watermark);
        CachedPage existing = lru.peek(key);
        if (!current && existing != null && (existing.current() || existing.lsn().isAfter(lsn))) {
            return;
        }
        lru.put(key, new CachedPage(lsn, page, current));
        metrics.cacheSize(lru.size(), lru.evictions());
    }

    private Behavior<Command> onTimeout(WaitTimedOut m) {
        Lsn lsn = waiterLsn.remove(m.id());
        if (lsn == null) {
            return Behaviors.same();
        }
        List<Waiter> ws = waiting.get(lsn);
        Waiter w = ws.stream().filter(x -> x.id() == m.id()).findFirst().orElseThrow();
        ws.remove(w);
        if (ws.isEmpty()) {
            waiting.remove(lsn);
        }
        String msg = "WAL up to " + lsn + " was not received within " + waitTimeout.toMillis() + " ms (received up to "
            + watermark + ")";
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
            CachedPage cached = lru.get(new BufferTag(g.rel(), g.blkno()));
            if (cached != null && cached.current() && !cached.lsn().isAfter(lsn)) {
                // nothing touched the block between the cached LSN and the watermark
                cacheHits++;
                metrics.cacheHit();
                g.replyTo().tell(new Page(cached.page(), lsn));
                return;
            }
            metrics.cacheMiss();
            CachedPage base = cached != null && !cached.lsn().isAfter(lsn) ? cached : null;
            Integer knownSize = lsn.equals(watermark) ? sizes.get(g.rel()) : null;
            if (pendingReads.isEmpty()) {
                ctx.getSelf().tell(FlushReads.INSTANCE);
            }
            pendingReads.add(new PendingRead(g, lsn, base, knownSize));
        } else if (request instanceof GetRelSize s) {
            Lsn lsn = s.latest() ? watermark : s.lsn();
            Integer known = lsn.equals(watermark) ? sizes.get(s.rel()) : null;
            if (known != null) {
                s.replyTo().tell(new RelSize(known >= 0, Math.max(known, 0), lsn));
                return;
            }
            metrics.storageReads(1);
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> store.relSize(s.rel(), lsn), reads),
                (size, e) -> new RelSizeRead(s, lsn, size, e));
        } else if (request instanceof GetDbSize d) {
            Lsn lsn = d.latest() ? watermark : d.lsn();
            metrics.storageReads(1);
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> dbSize(d.dbNode(), lsn), reads),
                (bytes, e) -> new DbSizeRead(d, lsn, bytes, e));
        }
    }

    /**
     * Blocking. Like pg_database_size: every fork of every relation of the database. The SLRU
     * pseudo-relations (tablespace 0, database 0: SlruKind) belong to no database.
     */
    private long dbSize(int dbNode, Lsn lsn) {
        long blocks = 0;
        for (Map.Entry<RelTag, Integer> e : store.relations(lsn).entrySet()) {
            if (e.getKey().dbNode() == dbNode && org.pageserver.protocol.SlruKind.fromRel(e.getKey()) == null) {
                blocks += Integer.toUnsignedLong(e.getValue());
            }
        }
        return blocks * 8192L;
    }

    private Behavior<Command> flushReads() {
        List<PendingRead> all = pendingReads;
        pendingReads = new ArrayList<>();
        metrics.storageReads(all.size());
        for (int from = 0; from < all.size(); from += MAX_READS_PER_TASK) {
            List<PendingRead> batch = all.subList(from, Math.min(all.size(), from + MAX_READS_PER_TASK));
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> readHistories(batch), reads),
                (rs, e) -> e != null ? new HistoriesRead(batch.stream().map(r -> failedRead(r, e)).toList())
                    : new HistoriesRead(rs));
        }
        return Behaviors.same();
    }

    /** Blocking: runs on the read dispatcher. A failed read fails its request alone. */
    private List<PageHistoryRead> readHistories(List<PendingRead> batch) {
        List<PageHistoryRead> out = new ArrayList<>(batch.size());
        for (PendingRead r : batch) {
            try {
                out.add(readHistory(r.request(), r.lsn(), r.base(), r.knownSize()));
            } catch (RuntimeException e) {
                out.add(failedRead(r, e));
            }
        }
        return out;
    }

    private static PageHistoryRead failedRead(PendingRead r, Throwable e) {
        return new PageHistoryRead(r.request(), r.lsn(), null, null, storageError(e), null);
    }

    /** A failed storage read as the client is told: when the horizon passed the LSN after admission, as before it. */
    private static String storageError(Throwable e) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof BelowHorizonException ? cause.getMessage() : "storage read failed: " + e.getMessage();
    }

    /** Blocking: runs on the read dispatcher. */
    private PageHistoryRead readHistory(GetPage g, Lsn lsn, CachedPage cached, Integer knownSize) {
        OptionalInt size = knownSize == null ? store.relSize(g.rel(), lsn)
            : knownSize < 0 ? OptionalInt.empty() : OptionalInt.of(knownSize);
        Integer sizeRead = knownSize != null ? null : size.isPresent() ? size.getAsInt() : -1;
        if (size.isEmpty()) {
            return new PageHistoryRead(g, lsn, null, null, "relation " + g.rel() + " does not exist at " + lsn, sizeRead);
        }
        if (Integer.compareUnsigned(g.blkno(), size.getAsInt()) >= 0) {
            return new PageHistoryRead(g, lsn, null, null, "block " + Integer.toUnsignedString(g.blkno())
                + " of relation " + g.rel() + " does not exist at " + lsn + " (relation has " + size.getAsInt()
                + " blocks)", sizeRead);
        }
        if (cached != null) {
            PageHistory h = store.pageHistorySince(g.rel(), g.blkno(), cached.lsn(), lsn);
            if (h.isIncremental()) {
                return new PageHistoryRead(g, lsn, h, cached.page(), null, sizeRead);
            }
            return new PageHistoryRead(g, lsn, h, null, null, sizeRead);
        }
        return new PageHistoryRead(g, lsn, store.pageHistory(g.rel(), g.blkno(), lsn), null, null, sizeRead);
    }

    private void onHistory(PageHistoryRead m) {
        GetPage g = m.request();
        if (m.sizeRead() != null && m.lsn().equals(watermark)) {
            // read as of the watermark, and no change since: later changes come with the watermark
            sizes.put(g.rel(), m.sizeRead());
        }
        if (m.error() != null) {
            g.replyTo().tell(new ReadFailed(m.error()));
            return;
        }
        BufferTag key = new BufferTag(g.rel(), g.blkno());
        PageHistory h = m.history();
        if (m.cachedPage() != null && h.records().isEmpty()) {
            // nothing happened to the block since the cached version: it is the answer
            cacheHits++;
            remember(key, m.lsn(), m.cachedPage());
            g.replyTo().tell(new Page(m.cachedPage(), m.lsn()));
            return;
        }
        if (m.cachedPage() != null) {
            cacheHits++;
            h = new PageHistory(m.cachedPage(), h.baseLsn(), h.records());
        }
        if (h.records().isEmpty()) {
            // an image and nothing after it: no redo to do, answer here
            byte[] page = h.baseImage() != null ? h.baseImage() : new byte[8192];
            remember(key, m.lsn(), page);
            g.replyTo().tell(new Page(page, m.lsn()));
            return;
        }
        redo.tell(new RedoWorker.Reconstruct(key, m.lsn(), h, hintsLogged, g.replyTo(), ctx.getSelf()));
    }

    private Behavior<Command> onReconstructed(Reconstructed m) {
        remember(m.key(), m.lsn(), m.page());
        if (m.replayed() >= materializeAfter && m.lastRecordEnd().isValid()) {
            // the page as of the last record replayed is the page as of any LSN up to the next
            // record of the block: store it there, so later reads start from it
            materialized++;
            metrics.imageCreated();
            BufferTag k = m.key();
            CompletableFuture.runAsync(() -> {
                try (TenantStore.Batch b = store.newBatch()) {
                    b.putImage(k.rel(), k.blkno(), m.lastRecordEnd(), m.page());
                    b.commit();
                }
            }, blocking).exceptionally(e -> {
                LOG.warn("cannot store a materialized image of {} block {}: {}", k.rel(), k.blkno(), e.toString());
                return null;
            });
        }
        return Behaviors.same();
    }

    private Behavior<Command> onRelSize(RelSizeRead m) {
        if (m.failure() != null) {
            m.request().replyTo().tell(new ReadFailed(storageError(m.failure())));
        } else {
            if (m.lsn().equals(watermark)) {
                // read as of the watermark, and no change since: later changes come with the watermark
                sizes.put(m.request().rel(), m.size().orElse(-1));
            }
            m.request().replyTo().tell(new RelSize(m.size().isPresent(), m.size().orElse(0), m.lsn()));
        }
        return Behaviors.same();
    }
}
