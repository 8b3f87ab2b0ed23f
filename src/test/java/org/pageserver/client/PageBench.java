package org.pageserver.client;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

/**
 * bench/pagebench: GetPage@latest of random blocks, one request in flight per connection, for
 * a fixed time; the same blocks read from PostgreSQL itself with a prepared
 * {@code SELECT get_raw_page('pgbench_accounts', 'main', $1)}. Prints throughput and latency
 * percentiles for both. Not a test.
 *
 * <p>Usage: PageBench PS_PORT PG_PORT SYSTEM_ID SPC/DB/REL NBLOCKS SECONDS CONNS...
 */
public final class PageBench {
    interface Reader extends AutoCloseable {
        byte[] read(int blkno) throws Exception;
    }

    /**
     * One run. {@code clientCpuUs} and {@code serverCpuUs}: CPU time per request after the
     * warm-up, of this JVM (the client) and of everything else on the machine (the server and
     * the kernel's work for it), from the process CPU time and /proc/stat's busy jiffies.
     */
    record Result(double tps, double p50, double p99, double p999, long n, double clientCpuUs, double serverCpuUs) {
    }

    /** Busy CPU time of the whole machine in ns (user, nice, system, irq, softirq, steal of /proc/stat). */
    static long machineBusyNs() {
        try {
            String[] f = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long j = 0;
            for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
                j += Long.parseLong(f[i]);
            }
            return j * 10_000_000L; // USER_HZ = 100
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static long processCpuNs() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
            .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    public static void main(String[] args) throws Exception {
        int psPort = Integer.parseInt(args[0]);
        int pgPort = Integer.parseInt(args[1]);
        SystemId id = SystemId.parse(args[2]);
        String[] r = args[3].split("/");
        RelTag rel = new RelTag(Integer.parseInt(r[0]), Integer.parseInt(r[1]), Integer.parseInt(r[2]), ForkNumber.MAIN);
        int nblocks = Integer.parseInt(args[4]);
        int seconds = Integer.parseInt(args[5]);
        // both sides serve from memory: PostgreSQL's shared_buffers were filled by a count(*),
        // the pageserver's page cache is filled here by reading every block once
        try (PageClient c = PageClient.connect("jdbc:postgresql://127.0.0.1:" + psPort + "/postgres", "postgres", null, id)) {
            List<org.pageserver.protocol.pagestream.PageStreamRequest> all = new ArrayList<>();
            for (int b = 0; b < nblocks; b++) {
                all.add(new org.pageserver.protocol.pagestream.PageStreamRequest.GetPage(true, new Lsn(1), rel, b));
            }
            c.pipeline(all, PageClient.DEFAULT_WINDOW);
        }
        Opener pageserver = () -> {
            PageClient c = PageClient.connect("jdbc:postgresql://127.0.0.1:" + psPort + "/postgres", "postgres", null, id);
            return new Reader() {
                public byte[] read(int blk) throws Exception {
                    return c.getPage(rel, blk, new Lsn(1), true);
                }

                public void close() throws Exception {
                    c.close();
                }
            };
        };
        Opener postgres = () -> {
            Properties p = new Properties();
            p.setProperty("user", "postgres");
            p.setProperty("prepareThreshold", "1");
            p.setProperty("binaryTransfer", "true");
            Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres", p);
            PreparedStatement st = c.prepareStatement("select get_raw_page('pgbench_accounts', 'main', ?)");
            return new Reader() {
                public byte[] read(int blk) throws Exception {
                    st.setInt(1, blk);
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        return rs.getBytes(1);
                    }
                }

                public void close() throws Exception {
                    c.close();
                }
            };
        };
        // warm both sides (this JVM's client code, the server's JIT) before anything is recorded:
        // otherwise whichever side runs first pays for the other's warm-up
        run(2, 1, nblocks, pageserver);
        run(2, 1, nblocks, postgres);
        System.out.println("| connections | pageserver req/s | p50 ms | p99 ms | p99.9 ms | PostgreSQL req/s | p50 ms | p99 ms | p99.9 ms | ratio |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        StringBuilder cpu = new StringBuilder();
        for (int i = 6; i < args.length; i++) {
            int conns = Integer.parseInt(args[i]);
            Result ours = run(conns, seconds, nblocks, pageserver);
            Result pg = run(conns, seconds, nblocks, postgres);
            System.out.printf("| %d | %.0f | %.3f | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %.2fx |%n", conns, ours.tps,
                ours.p50, ours.p99, ours.p999, pg.tps, pg.p50, pg.p99, pg.p999, ours.tps / pg.tps);
            cpu.append(String.format("| %d | %.1f | %.1f | %.1f | %.1f |%n", conns, ours.clientCpuUs, ours.serverCpuUs,
                pg.clientCpuUs, pg.serverCpuUs));
        }
        System.out.println();
        System.out.println("CPU time per request, µs (client: the benchmark's JVM, pgjdbc on both sides; server: the rest of the machine)");
        System.out.println();
        System.out.println("| connections | pageserver: client | pageserver: server | PostgreSQL: client | PostgreSQL: server |");
        System.out.println("|---|---|---|---|---|");
        System.out.print(cpu);
        System.exit(0);
    }

    interface Opener {
        Reader open() throws Exception;
    }

    static Result run(int conns, int seconds, int nblocks, Opener opener) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(conns);
        List<Future<long[]>> fs = new ArrayList<>();
        long warmupEnd = System.nanoTime() + 2_000_000_000L;
        long end = warmupEnd + seconds * 1_000_000_000L;
        for (int t = 0; t < conns; t++) {
            int seed = t;
            fs.add(pool.submit(() -> {
                Random rnd = new Random(seed);
                long[] lat = new long[1 << 16];
                int n = 0;
                try (Reader rd = opener.open()) {
                    while (true) {
                        long t0 = System.nanoTime();
                        if (t0 > end) {
                            break;
                        }
                        byte[] page = rd.read(rnd.nextInt(nblocks));
                        if (page.length != 8192) {
                            throw new IllegalStateException("short page");
                        }
                        long t1 = System.nanoTime();
                        if (t0 >= warmupEnd) {
                            if (n == lat.length) {
                                lat = Arrays.copyOf(lat, n * 2);
                            }
                            lat[n++] = t1 - t0;
                        }
                    }
                }
                return Arrays.copyOf(lat, n);
            }));
        }
        Thread.sleep(Math.max(0, (warmupEnd - System.nanoTime()) / 1_000_000));
        long busy0 = machineBusyNs();
        long own0 = processCpuNs();
        Thread.sleep(Math.max(0, (end - System.nanoTime()) / 1_000_000));
        long busy1 = machineBusyNs();
        long own1 = processCpuNs();
        List<long[]> all = new ArrayList<>();
        long total = 0;
        for (Future<long[]> f : fs) {
            long[] l = f.get();
            all.add(l);
            total += l.length;
        }
        pool.shutdown();
        long[] merged = new long[(int) total];
        int k = 0;
        for (long[] l : all) {
            System.arraycopy(l, 0, merged, k, l.length);
            k += l.length;
        }
        Arrays.sort(merged);
        double client = (own1 - own0) / 1e3 / total;
        double server = ((busy1 - busy0) - (own1 - own0)) / 1e3 / total;
        return new Result(total / (double) seconds, pct(merged, 0.50), pct(merged, 0.99), pct(merged, 0.999), total,
            client, server);
    }

    static double pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))] / 1e6;
    }
}
