package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One memory budget and a fixed set of threads, whatever the number of tenants: a pageserver
 * process ({@code java -jar} as the README runs it, so that its resident memory and threads are
 * its own, read from /proc/<pid>/status) attaches 30 small real primaries, and stays under
 * 1.5 GB resident with no more threads than it had with ten, and with one plus what its fixed
 * pools had not started yet; all thirty stream with a blocking pool of four threads.
 */
class TenantsMemoryIT {
    static final int TENANTS = 30;
    static final long MAX_RSS_BYTES = 1536L << 20;
    /** Threads that may come and go whatever the tenants (a GC or JIT compiler thread). */
    static final int THREAD_SLACK = 3;
    /** The blocking pool's size in this test: far fewer threads than tenants. */
    static final int BLOCKING_THREADS = 4;
    /** Threads the fixed-size pools may still start after the first tenant (see the test). */
    static final int POOLS_FILLING = 12;

    @TempDir
    Path tmp;

    /** VmRSS and Threads of a process, from /proc/<pid>/status. */
    record Usage(long rssBytes, int threads) {
        static Usage of(long pid) throws IOException {
            long rss = -1;
            int threads = -1;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                } else if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.replaceAll("[^0-9]", ""));
                }
            }
            return new Usage(rss, threads);
        }

        @Override
        public String toString() {
            return (rssBytes >> 20) + " MB resident, " + threads + " threads";
        }
    }

    static PgCluster smallPrimary() throws IOException, InterruptedException {
        return PgCluster.builder().set("shared_buffers", "16MB").set("max_connections", "20")
            .set("max_wal_senders", "4").set("max_replication_slots", "4").start();
    }

    /** Every tenant streaming, its durable LSN at least its primary's flush LSN at the time of the call. */
    static void awaitCaughtUp(ServerProcess ps, List<PgCluster> primaries, List<String> ids) throws Exception {
        List<org.pageserver.protocol.Lsn> targets = new ArrayList<>();
        for (PgCluster pg : primaries) {
            targets.add(pg.flushLsn());
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (true) {
            java.util.Map<String, String[]> rows = new java.util.HashMap<>();
            for (String row : ps.psql("status").split("\n")) {
                String[] c = row.split("\\|", -1);
                rows.put(c[0], c);
            }
            int behind = 0;
            for (int i = 0; i < ids.size(); i++) {
                String[] c = rows.get(ids.get(i));
                if (c == null || !c[1].equals("streaming")
                    || org.pageserver.protocol.Lsn.parse(c[4]).isBefore(targets.get(i))) {
                    behind++;
                }
            }
            if (behind == 0) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, behind + " of " + ids.size() + " tenants not caught up");
            Thread.sleep(200);
        }
    }

    /** Attaches primaries {@code from} (inclusive) to {@code to} (exclusive), two at a time, each writing a little then. */
    static void attach(ServerProcess ps, List<PgCluster> primaries, List<String> ids, int from, int to,
                       ExecutorService pool) throws Exception {
        List<Future<String>> attaching = new ArrayList<>();
        for (PgCluster pg : primaries.subList(from, to)) {
            attaching.add(pool.submit(() -> {
                String id = ps.psql("callmemaybe " + pg.conninfo());
                pg.psql("create table t as select generate_series(1, 10000) g");
                return id;
            }));
        }
        for (Future<String> f : attaching) {
            ids.add(f.get(10, TimeUnit.MINUTES));
        }
        awaitCaughtUp(ps, primaries.subList(0, to), ids);
    }

    @Test
    void thirtyTenantsTakeLessThanOneAndAHalfGigabytesAndNoMoreThreadsThanTen() throws Exception {
        List<PgCluster> primaries = new ArrayList<>();
        // initdb is most of a primary's start: two at a time on this 2-core machine
        ExecutorService pool = Executors.newFixedThreadPool(2);
        // A blocking pool of four threads that stay once started: thirty tenants stream on it (a
        // WAL receiver holds no thread while it waits for WAL), and the count of threads is not
        // blurred by pool threads starting lazily or ending after their idle timeout
        try (ServerProcess ps = ServerProcess.start(tmp.resolve("ps"), List.of("-Xmx512m",
            "-Dpageserver.blocking-dispatcher.thread-pool-executor.fixed-pool-size=" + BLOCKING_THREADS,
            "-Dpageserver.blocking-dispatcher.thread-pool-executor.allow-core-timeout=off"))) {
            List<Future<PgCluster>> starting = new ArrayList<>();
            for (int i = 0; i < TENANTS; i++) {
                starting.add(pool.submit(TenantsMemoryIT::smallPrimary));
            }
            for (Future<PgCluster> f : starting) {
                primaries.add(f.get(10, TimeUnit.MINUTES));
            }
            List<String> ids = new ArrayList<>();
            attach(ps, primaries, ids, 0, 1, pool);
            Usage one = Usage.of(ps.pid());
            attach(ps, primaries, ids, 1, 10, pool);
            Usage ten = Usage.of(ps.pid());
            attach(ps, primaries, ids, 10, TENANTS, pool);
            Usage thirty = Usage.of(ps.pid());
            assertEquals(TENANTS, ids.stream().distinct().count(), "each initdb has its own system_id");
            String figures = "1 tenant: " + one + "; 10: " + ten + "; " + TENANTS + ": " + thirty;
            System.out.println("TenantsMemoryIT: " + figures);
            assertTrue(thirty.rssBytes() < MAX_RSS_BYTES, figures);
            // the pools are of fixed sizes but start their threads lazily: not all have started
            // with one tenant, all have from about ten on
            assertTrue(thirty.threads() <= one.threads() + POOLS_FILLING, figures);
            assertTrue(thirty.threads() <= ten.threads() + THREAD_SLACK, figures);
        } finally {
            pool.shutdownNow();
            for (PgCluster pg : primaries) {
                pg.close();
            }
        }
    }
}
