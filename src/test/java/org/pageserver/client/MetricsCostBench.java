package org.pageserver.client;

import java.nio.file.Files;
import java.nio.file.Path;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

/**
 * {@code METRICS_COST=1 bash bench/pagebench.sh}: the cost of the GetPage path's metrics. Two
 * pageservers follow the same primary, one with {@code pageserver.metrics.enabled = true}, one
 * with false; the same random GetPage@latest load (PageBench.run) runs against each in turn,
 * alternating on/off ROUNDS times per connection count so that drifts of the shared machine
 * hit both alike. Prints throughput, p50, and the CPU time per request of each server process
 * itself (from /proc/PID/stat: both run on the same machine, so the machine's busy time would
 * mix them). Not a test.
 *
 * <p>Usage: MetricsCostBench ON_PORT ON_PID OFF_PORT OFF_PID SYSTEM_ID SPC/DB/REL NBLOCKS SECONDS ROUNDS CONNS...
 */
public final class MetricsCostBench {
    private MetricsCostBench() {
    }

    /** utime + stime of a process, ns (USER_HZ = 100). */
    static long processCpuNs(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // fields 14 and 15 of proc(5), counted from the state (field 3) at index 0
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
    }

    record Run(double tps, double p50, double serverCpuUs) {
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static Run run(int port, long pid, SystemId id, RelTag rel, int nblocks, int seconds, int conns) throws Exception {
        PageBench.Opener opener = () -> {
            PageClient c = PageClient.connect("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", null, id);
            return new PageBench.Reader() {
                public byte[] read(int blk) throws Exception {
                    return c.getPage(rel, blk, new Lsn(1), true);
                }

                public void close() throws Exception {
                    c.close();
                }
            };
        };
        // the server's CPU over the whole run, warm-up included, divided by the requests of the
        // recorded part scaled to the whole run
        long cpu0 = processCpuNs(pid);
        long t0 = System.nanoTime();
        PageBench.Result r = PageBench.run(conns, seconds, nblocks, opener);
        long wall = System.nanoTime() - t0;
        long cpu1 = processCpuNs(pid);
        double requests = r.tps() * wall / 1e9;
        return new Run(r.tps(), r.p50(), (cpu1 - cpu0) / 1e3 / requests);
    }

    public static void main(String[] args) throws Exception {
        int onPort = Integer.parseInt(args[0]);
        long onPid = Long.parseLong(args[1]);
        int offPort = Integer.parseInt(args[2]);
        long offPid = Long.parseLong(args[3]);
        SystemId id = SystemId.parse(args[4]);
        String[] r = args[5].split("/");
        RelTag rel = new RelTag(Integer.parseInt(r[0]), Integer.parseInt(r[1]), Integer.parseInt(r[2]), ForkNumber.MAIN);
        int nblocks = Integer.parseInt(args[6]);
        int seconds = Integer.parseInt(args[7]);
        int rounds = Integer.parseInt(args[8]);
        // fill both page caches and warm both JITs before anything is recorded
        for (int port : new int[] {onPort, offPort}) {
            try (PageClient c = PageClient.connect("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", null,
                id)) {
                java.util.List<org.pageserver.protocol.pagestream.PageStreamRequest> all = new java.util.ArrayList<>();
                for (int b = 0; b < nblocks; b++) {
                    all.add(new org.pageserver.protocol.pagestream.PageStreamRequest.GetPage(true, new Lsn(1), rel, b));
                }
                c.pipeline(all, PageClient.DEFAULT_WINDOW);
            }
        }
        run(onPort, onPid, id, rel, nblocks, 3, 1);
        run(offPort, offPid, id, rel, nblocks, 3, 1);
        System.out.println("| connections | round | metrics on req/s | p50 ms | server CPU µs/req | metrics off req/s | p50 ms"
            + " | server CPU µs/req | on/off throughput | on/off CPU |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (int i = 9; i < args.length; i++) {
            int conns = Integer.parseInt(args[i]);
            double onTps = 0;
            double offTps = 0;
            double onCpu = 0;
            double offCpu = 0;
            double[] tpsRatios = new double[rounds];
            double[] cpuRatios = new double[rounds];
            for (int round = 1; round <= rounds; round++) {
                // alternate which goes first, so that neither always runs right after the other
                Run on;
                Run off;
                if (round % 2 == 1) {
                    on = run(onPort, onPid, id, rel, nblocks, seconds, conns);
                    off = run(offPort, offPid, id, rel, nblocks, seconds, conns);
                } else {
                    off = run(offPort, offPid, id, rel, nblocks, seconds, conns);
                    on = run(onPort, onPid, id, rel, nblocks, seconds, conns);
                }
                System.out.printf("| %d | %d | %.0f | %.3f | %.1f | %.0f | %.3f | %.1f | %.3f | %.3f |%n", conns, round,
                    on.tps(), on.p50(), on.serverCpuUs(), off.tps(), off.p50(), off.serverCpuUs(), on.tps() / off.tps(),
                    on.serverCpuUs() / off.serverCpuUs());
                tpsRatios[round - 1] = on.tps() / off.tps();
                cpuRatios[round - 1] = on.serverCpuUs() / off.serverCpuUs();
                onTps += on.tps();
                offTps += off.tps();
                onCpu += on.serverCpuUs();
                offCpu += off.serverCpuUs();
            }
            System.out.printf("| %d | mean | %.0f | | %.1f | %.0f | | %.1f | %.3f | %.3f |%n", conns, onTps / rounds,
                onCpu / rounds, offTps / rounds, offCpu / rounds, onTps / offTps, onCpu / offCpu);
            System.out.printf("| %d | median of the rounds' ratios | | | | | | | %.3f | %.3f |%n", conns,
                median(tpsRatios), median(cpuRatios));
        }
        System.exit(0);
    }
}
