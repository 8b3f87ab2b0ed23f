package org.pageserver.metrics;

import org.pageserver.protocol.SystemId;

/**
 * bench: what the GetPage path's metrics cost per request in isolation, ns: the two clock reads,
 * the page cache hit count, the request count by result and the latency histogram, as
 * PageStreamFlow and PageCache do them for one page, on THREADS threads at once (the serving
 * threads share the tenant's counters). Not a test.
 *
 * <p>Usage: MetricsCallCost [THREADS [MILLIONS]]
 */
public final class MetricsCallCost {
    private MetricsCallCost() {
    }

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        long n = (args.length > 1 ? Long.parseLong(args[1]) : 20) * 1_000_000L;
        TenantMetrics t = Metrics.detached().tenant(new SystemId(1));
        for (int round = 0; round < 3; round++) {
            Thread[] ts = new Thread[threads];
            long t0 = System.nanoTime();
            for (int i = 0; i < threads; i++) {
                ts[i] = new Thread(() -> {
                    for (long k = 0; k < n; k++) {
                        long s = System.nanoTime();
                        t.cacheHit();
                        t.getPage(GetPageResult.OK, System.nanoTime() - s);
                    }
                });
                ts[i].start();
            }
            for (Thread th : ts) {
                th.join();
            }
            double ns = (System.nanoTime() - t0) / (double) n;
            System.out.printf("round %d: %d threads, %.1f ns per GetPage's metrics (wall time per call per thread)%n",
                round + 1, threads, ns);
        }
    }
}
