package org.pageserver.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.TenantStore;

/**
 * The metrics of one tenant: the {@code system_id} children of {@link Metrics}' families,
 * looked up once, so that a hot path pays an add to a striped counter and nothing else.
 *
 * <p>Methods are called from the tenant's actors and stream stages, each family from one
 * place; the children are thread-safe. The GetPage path's methods do nothing when
 * {@code pageserver.metrics.enabled} is false ({@link #readsEnabled}).
 */
public final class TenantMetrics {
    private final Metrics m;
    private final String label;
    private final boolean readsEnabled;

    private final CounterDataPoint walReceivedBytes;
    private final CounterDataPoint walReceivedRecords;
    private final CounterDataPoint walStoredBytes;
    private final CounterDataPoint walStoredRecords;
    private final GaugeDataPoint lastValidLsn;
    private final GaugeDataPoint lastRecordLsn;
    private final GaugeDataPoint durableLsn;
    private final GaugeDataPoint primaryWalEnd;
    private final GaugeDataPoint lagBytes;
    private final CounterDataPoint reconnects;
    private final CounterDataPoint recordsRefused;
    private final GaugeDataPoint diskFull;
    private final CounterDataPoint diskFullEpisodes;
    private final DistributionDataPoint getPageSeconds;
    private final DistributionDataPoint waitLsnSeconds;
    private final CounterDataPoint cacheHits;
    private final CounterDataPoint cacheMisses;
    private final CounterDataPoint cacheEvictions;
    private final GaugeDataPoint cacheBytes;
    private final CounterDataPoint redoRecords;
    private final CounterDataPoint redoSeconds;
    private final CounterDataPoint storageReads;
    private final CounterDataPoint imagesCreated;
    private final GaugeDataPoint pagestreamsOpen;
    private final ConcurrentMap<GetPageResult, CounterDataPoint> results = new ConcurrentHashMap<>();

    private volatile TenantStore store;
    /** Records decoded by the current WAL stream so far (its WalIngest counts from 0). */
    private long streamRecords;
    private long evictionsSeen;
    private long primaryWalEndValue;
    private long durableValue;
    /**
     * An ingest paused on a full disk and not resumed yet. Kept here rather than in the
     * WAL-stream actor, which a lost connection restarts: an episode outlives that.
     */
    private volatile boolean diskFullNow;
    /**
     * The chunks received and not yet stored durably, oldest first: {end LSN, the primary's send
     * time} (TimestampTz: µs since 2000-01-01). Owned by the WAL-stream actor.
     */
    private final java.util.ArrayDeque<long[]> unstored = new java.util.ArrayDeque<>();
    /** The send time of the oldest chunk not stored yet; 0 when everything received is stored. */
    private volatile long oldestUnstored;

    TenantMetrics(Metrics m, SystemId id) {
        this.m = m;
        this.label = id.toString();
        this.readsEnabled = m.readsEnabled();
        walReceivedBytes = m.walReceivedBytes.labelValues(label);
        walReceivedRecords = m.walReceivedRecords.labelValues(label);
        walStoredBytes = m.walStoredBytes.labelValues(label);
        walStoredRecords = m.walStoredRecords.labelValues(label);
        lastValidLsn = m.lastValidLsn.labelValues(label);
        lastRecordLsn = m.lastRecordLsn.labelValues(label);
        durableLsn = m.durableLsn.labelValues(label);
        primaryWalEnd = m.primaryWalEnd.labelValues(label);
        lagBytes = m.lagBytes.labelValues(label);
        reconnects = m.reconnects.labelValues(label);
        recordsRefused = m.recordsRefused.labelValues(label);
        diskFull = m.diskFull.labelValues(label);
        diskFullEpisodes = m.diskFullEpisodes.labelValues(label);
        getPageSeconds = m.getPageSeconds.labelValues(label);
        waitLsnSeconds = m.waitLsnSeconds.labelValues(label);
        cacheHits = m.cacheHits.labelValues(label);
        cacheMisses = m.cacheMisses.labelValues(label);
        cacheEvictions = m.cacheEvictions.labelValues(label);
        cacheBytes = m.cacheBytes.labelValues(label);
        redoRecords = m.redoRecords.labelValues(label);
        redoSeconds = m.redoSeconds.labelValues(label);
        storageReads = m.storageReads.labelValues(label);
        imagesCreated = m.imagesCreated.labelValues(label);
        pagestreamsOpen = m.pagestreamsOpen.labelValues(label);
        for (GetPageResult r : GetPageResult.values()) {
            results.put(r, m.getPageRequests.labelValues(label, r.label));
        }
    }

    /** A tenant's metrics on a registry of their own (tests and tools). */
    public static TenantMetrics detached(SystemId id) {
        return Metrics.detached().tenant(id);
    }

    public String systemId() {
        return label;
    }

    /** The tenant's store, once attached: its size and RocksDB's flushes and compactions are read from it. */
    public void attach(TenantStore s) {
        this.store = s;
    }

    /** The tenant was detached: its store is closed and no longer its. */
    void detachStore() {
        this.store = null;
    }

    public Optional<TenantStore> store() {
        return Optional.ofNullable(store);
    }

    public boolean readsEnabled() {
        return readsEnabled;
    }

    // ------------------------------------------------------------ ingest (the WAL-stream actor)

    /** A WAL stream (re)starts: its decoder counts records from 0 again. */
    public void streamStarted() {
        streamRecords = 0;
        // what was not stored is received again
        unstored.clear();
        oldestUnstored = 0;
    }

    /**
     * A chunk of WAL was received and decoded.
     *
     * @param recordsDecoded records the current stream has decoded so far
     * @param sendTime       the primary's send time of the chunk (PostgreSQL TimestampTz, µs
     *                       since 2000-01-01), 0 if unknown
     */
    public void walReceived(int bytes, long recordsDecoded, Lsn received, Lsn lastRecord, Lsn primaryEnd,
                            long sendTime) {
        walReceivedBytes.inc(bytes);
        walReceivedRecords.inc(recordsDecoded - streamRecords);
        streamRecords = recordsDecoded;
        lastValidLsn.set(received.value());
        lastRecordLsn.set(lastRecord.value());
        if (primaryEnd.isValid() && primaryEnd.value() > primaryWalEndValue) {
            primaryWalEndValue = primaryEnd.value();
            primaryWalEnd.set(primaryWalEndValue);
        }
        if (sendTime != 0) {
            unstored.addLast(new long[] {received.value(), sendTime});
            if (unstored.size() == 1) {
                oldestUnstored = sendTime;
            }
        }
        lagBytes.set(Math.max(0, primaryWalEndValue - durableValue));
    }

    /** A batch was stored durably up to {@code durable}. */
    public void walStored(long bytes, int records, Lsn durable) {
        walStoredBytes.inc(bytes);
        walStoredRecords.inc(records);
        durableValue = durable.value();
        durableLsn.set(durableValue);
        lagBytes.set(Math.max(0, primaryWalEndValue - durable.value()));
        while (!unstored.isEmpty() && unstored.peekFirst()[0] <= durableValue) {
            unstored.removeFirst();
        }
        oldestUnstored = unstored.isEmpty() ? 0 : unstored.peekFirst()[1];
    }

    /** The durable position read from the store when a stream starts. */
    public void durableAt(Lsn durable) {
        durableValue = durable.value();
        durableLsn.set(durableValue);
    }

    public void reconnecting() {
        reconnects.inc();
    }

    public void walRefused() {
        recordsRefused.inc();
    }

    /** A write failed on a full disk; true when this begins an episode (it was not paused already). */
    public boolean diskFullBegan() {
        if (diskFullNow) {
            return false;
        }
        diskFullNow = true;
        diskFull.set(1);
        diskFullEpisodes.inc();
        return true;
    }

    /** A write succeeded; true when this ends an episode of a full disk. */
    public boolean diskFullEnded() {
        if (!diskFullNow) {
            return false;
        }
        diskFullNow = false;
        diskFull.set(0);
        return true;
    }

    /** Whether ingest is paused on a full disk. */
    public boolean diskFull() {
        return diskFullNow;
    }

    double lagSeconds() {
        long since = oldestUnstored;
        if (since == 0) {
            return 0;
        }
        long nowPg = System.currentTimeMillis() * 1000 - PG_EPOCH_MICROS;
        return Math.max(0, nowPg - since) / 1e6;
    }

    /** 2000-01-01T00:00:00Z in µs since the Unix epoch: PostgreSQL's timestamp origin. */
    private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;

    // ------------------------------------------------------------ reads

    /** A GetPage answered after {@code nanos}: the request count by result and the latency histogram. */
    public void getPage(GetPageResult result, long nanos) {
        if (readsEnabled) {
            results.get(result).inc();
            getPageSeconds.observe(nanos / 1e9);
        }
    }

    public void cacheHit() {
        if (readsEnabled) {
            cacheHits.inc();
        }
    }

    public void cacheMiss() {
        if (readsEnabled) {
            cacheMisses.inc();
        }
    }

    /** The page cache's size after an insertion, and its evictions since it was created. */
    public void cacheSize(int pages, long evictions) {
        cacheBytes.set(pages * 8192.0);
        if (evictions > evictionsSeen) {
            cacheEvictions.inc(evictions - evictionsSeen);
            evictionsSeen = evictions;
        } else if (evictions < evictionsSeen) {
            // a restarted page cache counts from 0 again
            cacheEvictions.inc(evictions);
            evictionsSeen = evictions;
        }
    }

    /** A parked read waited {@code nanos} for the WAL to reach its LSN. */
    public void waitedForWal(long nanos) {
        waitLsnSeconds.observe(nanos / 1e9);
    }

    public void redone(int records, long nanos) {
        redoRecords.inc(records);
        redoSeconds.inc(nanos / 1e9);
    }

    public void storageReads(int n) {
        storageReads.inc(n);
    }

    public void imageCreated() {
        imagesCreated.inc();
    }

    public void pagestreamOpened() {
        pagestreamsOpen.inc();
    }

    public void pagestreamClosed() {
        pagestreamsOpen.dec();
    }
}
