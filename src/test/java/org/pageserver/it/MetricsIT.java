package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.metrics.PrometheusText;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;

/**
 * {@code GET /metrics} of a pageserver following a real primary under pgbench: the ingest
 * counters follow the primary's WAL, the lag comes back to zero, a GetPage burst moves the
 * latency histogram by exactly its size, every scrape parses strictly (PrometheusText), and
 * every metric the Grafana dashboard names is in a scrape.
 */
class MetricsIT {
    @TempDir
    static Path tmp;
    static PgCluster pg;
    static TestPageServer ps;
    static SystemId systemId;
    static Map<String, String> tenant;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void setUp() throws Exception {
        pg = PgCluster.builder().set("autovacuum", "off").start();
        pg.pgbench("-i", "-s", "2", "-q");
        ps = TestPageServer.start(tmp.resolve("ps"));
        systemId = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        tenant = Map.of("system_id", systemId.toString());
        ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(60));
    }

    @AfterAll
    static void tearDown() {
        if (ps != null) {
            ps.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    /** One scrape, parsed strictly; waits for the HTTP listener, which binds after pgwire. */
    static PrometheusText scrape() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
            r.headers().toString());
        return PrometheusText.parse(r.body());
    }

    static HttpResponse<String> get(String path) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ps.httpPort() + path)).build(),
                    HttpResponse.BodyHandlers.ofString());
            } catch (java.net.ConnectException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    static double tenantValue(PrometheusText t, String name) {
        return t.value(name, tenant);
    }

    @Test
    void ingestCountersFollowThePrimaryAndLagReturnsToZero() throws Exception {
        Lsn start = pg.flushLsn();
        ps.awaitDurable(start, Duration.ofSeconds(60));
        PrometheusText before = scrape();
        CompletableFuture<String> load = CompletableFuture.supplyAsync(() -> {
            try {
                return pg.pgbench("-c", "4", "-T", "8", "-n");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        // scraped while pgbench runs: the received bytes rise from scrape to scrape
        List<Double> during = new ArrayList<>();
        while (!load.isDone()) {
            during.add(tenantValue(scrape(), "pageserver_wal_received_bytes_total"));
            Thread.sleep(500);
        }
        load.get();
        assertTrue(during.size() >= 4, "scrapes during the load: " + during.size());
        assertTrue(during.get(during.size() - 1) > during.get(0), "received bytes rose during the load: " + during);

        Lsn end = pg.flushLsn();
        PrometheusText after = awaitScrape(t -> tenantValue(t, "pageserver_durable_lsn") >= end.value()
            && tenantValue(t, "pageserver_ingest_lag_bytes") == 0, "durable_lsn to reach " + end + " and lag 0");
        assertEquals(0, tenantValue(after, "pageserver_ingest_lag_bytes"));
        assertEquals(0, tenantValue(after, "pageserver_ingest_lag_seconds"));
        double received = tenantValue(after, "pageserver_wal_received_bytes_total")
            - tenantValue(before, "pageserver_wal_received_bytes_total");
        assertEquals(tenantValue(after, "pageserver_last_valid_lsn") - tenantValue(before, "pageserver_last_valid_lsn"),
            received, "bytes received = how far the last valid LSN moved");
        assertTrue(received >= end.value() - tenantValue(before, "pageserver_last_valid_lsn"),
            "received " + received + " bytes, the primary wrote up to " + end);
        double recordsIn = tenantValue(after, "pageserver_wal_received_records_total")
            - tenantValue(before, "pageserver_wal_received_records_total");
        double recordsStored = tenantValue(after, "pageserver_wal_stored_records_total")
            - tenantValue(before, "pageserver_wal_stored_records_total");
        assertTrue(recordsIn > 1000, "records received " + recordsIn);
        assertEquals(recordsIn, recordsStored, "every record received is stored once caught up");
        assertTrue(tenantValue(after, "pageserver_last_valid_lsn") >= end.value());
        assertTrue(tenantValue(after, "pageserver_disk_bytes") > 0);
        assertEquals(0, tenantValue(after, "pageserver_wal_records_refused_total"));
    }

    interface Check {
        boolean test(PrometheusText t);
    }

    static PrometheusText awaitScrape(Check c, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            PrometheusText t = scrape();
            if (c.test(t)) {
                return t;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(200);
        }
    }

    @Test
    void getPageBurstMovesTheLatencyHistogramByItsSize() throws Exception {
        String[] r = pg.psql("select (select oid from pg_database where datname = current_database()), "
            + "pg_relation_filenode('pgbench_accounts'), pg_relation_size('pgbench_accounts') / 8192").split("\\|");
        RelTag accounts = new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
        int nblocks = Integer.parseInt(r[2]);
        int n = 1000;
        List<PageStreamRequest> burst = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            burst.add(new PageStreamRequest.GetPage(true, new Lsn(1), accounts, i % nblocks));
        }
        // a block past the end: an error, counted under its own result
        burst.add(new PageStreamRequest.GetPage(true, new Lsn(1), accounts, nblocks + 1000));
        try (PageClient c = PageClient.connect(ps.url(), "postgres", null, systemId)) {
            PrometheusText before = awaitScrape(t -> tenantValue(t, "pageserver_pagestreams_open") == 1,
                "the pagestream to be counted open");
            List<PageStreamResponse> answers = c.pipeline(burst, PageClient.DEFAULT_WINDOW);
            assertEquals(n, answers.stream().filter(a -> a instanceof PageStreamResponse.Page).count());
            PrometheusText after = scrape();
            assertEquals(n + 1, tenantValue(after, "pageserver_getpage_seconds_count")
                - tenantValue(before, "pageserver_getpage_seconds_count"));
            Map<String, String> ok = Map.of("system_id", systemId.toString(), "result", "ok");
            Map<String, String> notFound = Map.of("system_id", systemId.toString(), "result", "not_found");
            assertEquals(n, after.value("pageserver_getpage_requests_total", ok)
                - before.value("pageserver_getpage_requests_total", ok));
            assertEquals(1, after.value("pageserver_getpage_requests_total", notFound)
                - before.value("pageserver_getpage_requests_total", notFound));
            double hits = tenantValue(after, "pageserver_page_cache_hits_total")
                - tenantValue(before, "pageserver_page_cache_hits_total");
            double misses = tenantValue(after, "pageserver_page_cache_misses_total")
                - tenantValue(before, "pageserver_page_cache_misses_total");
            assertEquals(n + 1, hits + misses, "every GetPage is a hit or a miss");
        }
        awaitScrape(t -> tenantValue(t, "pageserver_pagestreams_open") == 0, "the pagestream to be closed");
    }

    @Test
    void everyMetricOfTheDashboardIsInAScrape() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(Files.readString(Path.of("grafana/pageserver.json")));
        Set<String> named = new TreeSet<>();
        Pattern metric = Pattern.compile("\\b((?:pageserver|jvm)_[a-z0-9_]+)\\b");
        List<JsonNode> exprs = new ArrayList<>(dashboard.findValues("expr"));
        exprs.addAll(dashboard.findValues("definition"));
        for (JsonNode e : exprs) {
            Matcher m = metric.matcher(e.asText());
            while (m.find()) {
                named.add(m.group(1));
            }
        }
        assertTrue(named.size() >= 15, "metrics named by the dashboard: " + named);
        Set<String> exposed = scrape().sampleNames();
        Set<String> missing = new TreeSet<>(named);
        missing.removeAll(exposed);
        assertEquals(Set.of(), missing, "dashboard metrics not in a scrape");
    }
}
