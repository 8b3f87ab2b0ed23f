package org.pageserver.storage;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;

/**
 * The background work on one tenant's store, one pass at a time (plain Java; {@link
 * CompactionPool} runs the passes of every tenant on a few shared threads):
 * <ol>
 *   <li>images: every block that got at least {@code imageAfter} WAL records since its last
 *       image ({@link ChainLengths}, counted by the ingest) is rebuilt as of the durable LSN and
 *       stored there as an image, so that reads (and base backups above all) replay a short
 *       chain. The durable LSN is the end of the last record stored, a record boundary the WAL
 *       has durably reached; the image at L contains the records ending at L (see {@link Keys}).
 *       Each image is written with its block's others in one batch: an image is only an
 *       optimisation, and a crash loses at most some of them;</li>
 *   <li>retention: the horizon follows the durable LSN {@code window} behind (the newest
 *       durable LSN sampled at least {@code window} ago, so it stays put for a window after a
 *       restart), never past a pinned LSN, durably; then {@link Retention} collapses what is
 *       older than it.</li>
 * </ol>
 */
public final class Compaction {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Compaction.class);
    /** Images written per batch. */
    private static final int IMAGES_PER_BATCH = 64;

    /**
     * @param imageAfter records since a block's last image that make the compaction write a new one
     * @param window     how far back reads may go (pageserver.retention.window)
     */
    public record Config(int imageAfter, Duration window) {
    }

    /** What one pass did. */
    public record Pass(int images, int imageFailures, Lsn horizon, Retention.Collapsed collapsed) {
    }

    private final TenantStore store;
    private final PageRebuilder rebuilder;
    private final Config config;
    private final LongSupplier nanoClock;
    /**
     * A collapse reads the whole store, so the horizon moves in steps of an eighth of the window
     * (the disk holds up to 9/8 of a window of history), not at every pass.
     */
    static final int HORIZON_STEPS_PER_WINDOW = 8;

    /** (nanoTime, durable LSN) of every pass within the last window, oldest first. */
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();
    /** The horizon the last collapse ran at: INVALID until the first pass (which redoes an interrupted one). */
    private Lsn collapsedAt = Lsn.INVALID;
    /** When the horizon last moved (nanoTime); none yet: it may move at once. */
    private long lastAdvance;
    private boolean advanced;
    private volatile boolean stopped;

    public Compaction(TenantStore store, PageRebuilder rebuilder, Config config, LongSupplier nanoClock) {
        this.store = store;
        this.rebuilder = rebuilder;
        this.config = config;
        this.nanoClock = nanoClock;
    }

    public Compaction(TenantStore store, PageRebuilder rebuilder, Config config) {
        this(store, rebuilder, config, System::nanoTime);
    }

    /** Asks a running pass to stop at its next batch; later passes do nothing. */
    public void stop() {
        stopped = true;
    }

    boolean stopped() {
        return stopped || !store.isOpen();
    }

    @Override
    public String toString() {
        return "compaction of " + store.dir().getFileName();
    }

    /** One pass. Not thread-safe: one pass of a tenant at a time ({@link CompactionPool} sees to it). */
    public Pass runOnce() {
        if (stopped() || store.meta().isEmpty()) {
            return new Pass(0, 0, store.horizon(), Retention.Collapsed.NONE);
        }
        Lsn durable = store.durableLsn();
        int[] made = makeImages(durable);
        Retention.Collapsed collapsed = Retention.Collapsed.NONE;
        Lsn horizon = store.horizon();
        Lsn target = horizonTarget(durable);
        long now = nanoClock.getAsLong();
        boolean due = !advanced || now - lastAdvance >= config.window().toNanos() / HORIZON_STEPS_PER_WINDOW;
        if (due && target.isValid() && !target.isBefore(store.meta().get().consistentLsn())) {
            Lsn before = horizon;
            horizon = store.advanceHorizon(target);
            if (!horizon.equals(before)) {
                advanced = true;
                lastAdvance = now;
            }
        }
        if (horizon.isValid() && !horizon.equals(collapsedAt) && !stopped()) {
            collapsed = new Retention(store, rebuilder, this::stopped).collapse(horizon);
            if (!stopped()) {
                collapsedAt = horizon;
            }
            LOG.info("retention of {}: horizon {}, {}", store.dir().getFileName(), horizon, collapsed);
        }
        return new Pass(made[0], made[1], horizon, collapsed);
    }

    /** Images of the long chains as of {@code durable}: {made, failed}. */
    private int[] makeImages(Lsn durable) {
        List<Map.Entry<BufferTag, Integer>> chosen = store.chains().atLeast(config.imageAfter());
        int made = 0;
        int failed = 0;
        for (int i = 0; i < chosen.size() && !stopped(); i += IMAGES_PER_BATCH) {
            List<Map.Entry<BufferTag, Integer>> part = chosen.subList(i, Math.min(chosen.size(), i + IMAGES_PER_BATCH));
            try (StoreBatch b = store.newBatch()) {
                for (Map.Entry<BufferTag, Integer> e : part) {
                    BufferTag tag = e.getKey();
                    PageHistory h = store.pageHistory(tag.rel(), tag.blkno(), durable);
                    if (h.records().isEmpty()) {
                        continue; // already an image at or after its last record
                    }
                    try {
                        b.putImage(tag.rel(), tag.blkno(), durable, rebuilder.rebuild(h, tag));
                        made++;
                    } catch (RuntimeException redoFailed) {
                        failed++;
                        LOG.warn("no image of {} of {} at {}: {}", tag, store.dir().getFileName(), durable,
                            redoFailed.toString());
                    }
                }
                b.commitUnsynced();
                Faults.reach(Faults.Point.IMAGE);
            } catch (StorageException closed) {
                if (stopped()) {
                    break;
                }
                throw closed;
            }
            for (Map.Entry<BufferTag, Integer> e : part) {
                store.chains().imaged(e.getKey(), e.getValue());
            }
        }
        return new int[] {made, failed};
    }

    /** The newest durable LSN sampled at least a window ago (INVALID when none is that old). */
    private Lsn horizonTarget(Lsn durable) {
        long now = nanoClock.getAsLong();
        samples.addLast(new long[] {now, durable.value()});
        long cutoff = now - config.window().toNanos();
        Lsn target = Lsn.INVALID;
        while (!samples.isEmpty() && samples.peekFirst()[0] <= cutoff) {
            target = new Lsn(samples.pollFirst()[1]);
        }
        if (target.isValid()) {
            // keep the one found: the next pass's target is never older than it
            samples.addFirst(new long[] {cutoff, target.value()});
        }
        return target;
    }
}
