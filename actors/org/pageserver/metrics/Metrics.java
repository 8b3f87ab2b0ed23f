package org.pageserver.metrics;

import com.typesafe.config.Config;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.StatefulMetric;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.pageserver.protocol.SystemId;

/**
 * The process's Prometheus registry and every metric family of the pageserver, named
 * {@code pageserver_*}, per tenant labelled by {@code system_id} (the children live in
 * {@link TenantMetrics}). One per process (per actor system in tests); the {@code /metrics}
 * route renders it with the client's own text format writer.
 *
 * <p>{@code pageserver.metrics.enabled = false} turns off the metrics of the GetPage path (the
 * per-request counters and histograms, see {@link TenantMetrics#readsEnabled}); everything
 * else costs nothing per request and stays on.
 */
public final class Metrics {
    /** GetPage latency buckets, seconds: a cache hit is tens of µs, a parked read up to wait-lsn-timeout. */
    private static final double[] LATENCY_BUCKETS = {0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005,
        0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final boolean readsEnabled;
    private final ConcurrentMap<SystemId, TenantMetrics> tenants = new ConcurrentHashMap<>();
    /** The families whose first label is system_id: a detached tenant's series are removed from each. */
    private final List<StatefulMetric<?, ?>> perTenant = new java.util.ArrayList<>();
    private final LongAdder httpAuthFailures = new LongAdder();

    // ingest
    final Counter walReceivedBytes = counter("pageserver_wal_received_bytes", "WAL bytes received from the primary");
    final Counter walReceivedRecords = counter("pageserver_wal_received_records",
        "WAL records decoded from the WAL received");
    final Counter walStoredBytes = counter("pageserver_wal_stored_bytes", "raw WAL bytes stored durably");
    final Counter walStoredRecords = counter("pageserver_wal_stored_records", "WAL records stored durably");
    final Gauge lastValidLsn = gauge("pageserver_last_valid_lsn", "last WAL byte received (LSN as a number)");
    final Gauge lastRecordLsn = gauge("pageserver_last_record_lsn", "end of the last record decoded (LSN as a number)");
    final Gauge durableLsn = gauge("pageserver_durable_lsn", "end of the last record stored durably (LSN as a number)");
    final Gauge primaryWalEnd = gauge("pageserver_primary_wal_end_lsn",
        "the primary's end of WAL as it last reported it (LSN as a number)");
    final Gauge lagBytes = gauge("pageserver_ingest_lag_bytes",
        "WAL the primary has flushed and the pageserver has not stored yet, bytes");
    final Counter reconnects = counter("pageserver_wal_receiver_reconnects",
        "WAL streams lost (the receiver reconnects with backoff)");
    final Counter recordsRefused = counter("pageserver_wal_records_refused",
        "WAL that could not be decoded or a record refused by the ingest check (ingest stops: broken)");
    final Gauge diskFull = gauge("pageserver_disk_full",
        "1 while the tenant's ingest is paused because its disk is full (ENOSPC), else 0");
    final Counter diskFullEpisodes = counter("pageserver_disk_full_episodes",
        "times the tenant's ingest paused on a full disk (each ends when a write succeeds again)");

    // reads
    final Counter getPageRequests = perTenant(Counter.builder().name("pageserver_getpage_requests")
        .help("GetPage requests answered, by result").labelNames("system_id", "result").withoutExemplars()
        .register(registry));
    final Histogram getPageSeconds = perTenant(Histogram.builder().name("pageserver_getpage_seconds")
        .help("GetPage latency inside the server, from the request's parse to its answer").labelNames("system_id")
        .classicOnly().classicUpperBounds(LATENCY_BUCKETS).withoutExemplars().register(registry));
    final Histogram waitLsnSeconds = perTenant(Histogram.builder().name("pageserver_wait_lsn_seconds")
        .help("time a read was parked waiting for WAL up to its LSN").labelNames("system_id")
        .classicOnly().classicUpperBounds(LATENCY_BUCKETS).withoutExemplars().register(registry));
    final Counter cacheHits = counter("pageserver_page_cache_hits", "GetPage answered from the page cache without reading the store");
    final Counter cacheMisses = counter("pageserver_page_cache_misses", "GetPage that had to read the store");
    final Counter cacheEvictions = counter("pageserver_page_cache_evictions", "pages evicted from the page cache");
    final Gauge cacheBytes = gauge("pageserver_page_cache_bytes", "bytes of pages held in the page cache");
    final Counter redoRecords = counter("pageserver_redo_records_applied", "WAL records replayed to rebuild pages");
    final Counter redoSeconds = perTenant(Counter.builder().name("pageserver_redo_seconds")
        .help("time spent replaying records to rebuild pages").labelNames("system_id").withoutExemplars()
        .register(registry));
    final Counter storageReads = counter("pageserver_storage_reads",
        "reads of the store for page requests (page histories, relation and database sizes)");

    // storage
    final Counter imagesCreated = counter("pageserver_images_materialized",
        "page images stored after a rebuild replayed materialize-after records or more");
    final Gauge pagestreamsOpen = gauge("pageserver_pagestreams_open", "pagestream connections open");

    private Metrics(boolean readsEnabled, boolean jvm) {
        this.readsEnabled = readsEnabled;
        GaugeWithCallback.builder().name("pageserver_ingest_lag_seconds")
            .help("age of the oldest WAL received and not stored yet, by the primary's send timestamps; 0 when all is stored")
            .labelNames("system_id")
            .callback(cb -> each(t -> cb.call(t.lagSeconds(), t.systemId()))).register(registry);
        GaugeWithCallback.builder().name("pageserver_disk_bytes").help("bytes on disk of the tenant's store")
            .labelNames("system_id")
            .callback(cb -> each(t -> t.store().ifPresent(s -> cb.call(s.diskBytes(), t.systemId())))).register(registry);
        storeCounter("pageserver_storage_flushes", "memtable flushes of the store", s -> s.events().flushes());
        storeCounter("pageserver_storage_flush_bytes", "bytes written by memtable flushes", s -> s.events().flushBytes());
        storeCounter("pageserver_storage_compactions", "compactions of the store", s -> s.events().compactions());
        storeCounter("pageserver_storage_compaction_read_bytes", "bytes read by compactions",
            s -> s.events().compactionReadBytes());
        storeCounter("pageserver_storage_compaction_written_bytes", "bytes written by compactions",
            s -> s.events().compactionWrittenBytes());
        if (jvm) {
            JvmMetrics.builder().register(registry);
        }
    }

    /** From {@code pageserver.metrics} of the configuration. */
    public static Metrics fromConfig(Config root) {
        return new Metrics(root.getBoolean("pageserver.metrics.enabled"), true);
    }

    /** Metrics on a registry of their own that nobody scrapes: for tools and tests that need none. */
    public static Metrics detached() {
        return new Metrics(true, false);
    }

    public boolean readsEnabled() {
        return readsEnabled;
    }

    /** The tenant's metrics, created on first use. */
    public TenantMetrics tenant(SystemId id) {
        return tenants.computeIfAbsent(id, i -> new TenantMetrics(this, i));
    }

    /**
     * The tenant was detached: its series leave the exposition (a tenant that comes back starts
     * its counters from zero, a reset Prometheus expects), and its store is no longer read. A
     * stage still holding its old {@link TenantMetrics} counts into children nobody renders.
     */
    public void forget(SystemId id) {
        TenantMetrics t = tenants.remove(id);
        if (t != null) {
            t.detachStore();
        }
        String label = id.toString();
        for (StatefulMetric<?, ?> family : perTenant) {
            family.removeIf(labels -> labels.get(0).equals(label));
        }
    }

    /** The tenants seen so far (attached, or asked about by a pagestream). */
    public Collection<TenantMetrics> tenants() {
        return tenants.values();
    }

    /**
     * The pgwire listener's counters, read at scrape time: connections open, refused over
     * max-connections, and failed password authentications (with the HTTP listener's).
     */
    public void pgwire(LongSupplier open, LongSupplier refused, LongSupplier authFailures) {
        GaugeWithCallback.builder().name("pageserver_pgwire_connections_open")
            .help("pgwire connections accepted and not closed").callback(cb -> cb.call(open.getAsLong()))
            .register(registry);
        CounterWithCallback.builder().name("pageserver_pgwire_connections_refused")
            .help("pgwire connections refused: max-connections reached").callback(cb -> cb.call(refused.getAsLong()))
            .register(registry);
        CounterWithCallback.builder().name("pageserver_auth_failures")
            .help("failed authentications, by listener").labelNames("listener")
            .callback(cb -> {
                cb.call(authFailures.getAsLong(), "pgwire");
                cb.call(httpAuthFailures.sum(), "http");
            })
            .register(registry);
    }

    public void httpAuthFailed() {
        httpAuthFailures.increment();
    }

    public MetricSnapshots snapshot() {
        return registry.scrape();
    }

    /** The Prometheus text exposition format (version 0.0.4). Blocking: it reads store sizes. */
    public void writeText(OutputStream out) throws IOException {
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
    }

    public static final String TEXT_CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    private void each(java.util.function.Consumer<TenantMetrics> f) {
        for (TenantMetrics t : List.copyOf(tenants.values())) {
            f.accept(t);
        }
    }

    private void storeCounter(String name, String help,
                              java.util.function.ToLongFunction<org.pageserver.storage.TenantStore> value) {
        CounterWithCallback.builder().name(name).help(help).labelNames("system_id")
            .callback(cb -> each(t -> t.store().ifPresent(s -> cb.call(value.applyAsLong(s), t.systemId()))))
            .register(registry);
    }

    private Counter counter(String name, String help) {
        return perTenant(Counter.builder().name(name).help(help).labelNames("system_id").withoutExemplars()
            .register(registry));
    }

    private Gauge gauge(String name, String help) {
        return perTenant(Gauge.builder().name(name).help(help).labelNames("system_id").withoutExemplars()
            .register(registry));
    }

    private <M extends StatefulMetric<?, ?>> M perTenant(M family) {
        perTenant.add(family);
        return family;
    }
}
