package org.pageserver.storage;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the compaction passes of every tenant of the process on a fixed number of threads,
 * whatever the number of tenants: a one-thread ticker looks every {@link #TICK} for tenants
 * whose interval has passed and hands their pass to the workers; a tenant's next pass is due an
 * interval after its last one ended, and never runs twice at once.
 */
public final class CompactionPool {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CompactionPool.class);
    static final Duration TICK = Duration.ofMillis(200);
    /** Half the cores, at least one: compaction is background work and must leave ingest and reads room. */
    static final int WORKERS = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    private static final CompactionPool SHARED = new CompactionPool(WORKERS);

    private final ScheduledExecutorService ticker;
    private final ExecutorService workers;
    private final Set<Registration> registered = ConcurrentHashMap.newKeySet();

    private CompactionPool(int threads) {
        AtomicInteger n = new AtomicInteger();
        ticker = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "compaction-ticker"));
        workers = Executors.newFixedThreadPool(threads, r -> daemon(r, "compaction-" + n.incrementAndGet()));
        ticker.scheduleWithFixedDelay(this::tick, TICK.toMillis(), TICK.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.setPriority(Thread.NORM_PRIORITY - 1);
        return t;
    }

    /** The pool of the process. */
    public static CompactionPool shared() {
        return SHARED;
    }

    /** Runs {@code compaction} every {@code interval} until the registration is closed. */
    public Registration register(Compaction compaction, Duration interval) {
        Registration r = new Registration(compaction, interval);
        registered.add(r);
        return r;
    }

    private void tick() {
        long now = System.nanoTime();
        for (Registration r : registered) {
            if (now - r.lastEnd >= r.interval.toNanos() && r.running.compareAndSet(false, true)) {
                workers.execute(r::run);
            }
        }
    }

    /** One tenant's place in the pool. */
    public final class Registration implements AutoCloseable {
        private final Compaction compaction;
        private final Duration interval;
        private final AtomicBoolean running = new AtomicBoolean();
        private volatile long lastEnd = System.nanoTime();
        /** The last pass failed on a full disk: said once, not at every pass until there is room. */
        private boolean diskFull;

        private Registration(Compaction compaction, Duration interval) {
            this.compaction = compaction;
            this.interval = interval;
        }

        private void run() {
            try {
                compaction.runOnce();
                if (diskFull) {
                    diskFull = false;
                    LOG.info("{}: disk space available again, passes resumed", compaction);
                }
            } catch (RuntimeException e) {
                if (compaction.stopped()) {
                    return;
                }
                java.util.Optional<String> full = DiskFull.detail(e);
                if (full.isEmpty()) {
                    LOG.warn("compaction pass failed (retried in {}): {}", interval, e.toString(), e);
                } else if (!diskFull) {
                    // nothing is lost: its writes are atomic batches, redone by a later pass
                    diskFull = true;
                    LOG.warn("{}: disk full, passes fail until there is room (retried every {}): {}", compaction,
                        interval, full.get());
                }
            } finally {
                lastEnd = System.nanoTime();
                running.set(false);
            }
        }

        /** No more passes; a pass running stops at its next batch. */
        @Override
        public void close() {
            registered.remove(this);
            compaction.stop();
        }
    }
}
