package org.pageserver.storage;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fault injection for crash tests: named points in the store's write paths where the process can
 * be made to die at once (SIGKILL sent to itself: no shutdown hook, nothing flushed), so that
 * a test sees recovery from exactly there. Off unless the system property
 * {@code pageserver.faults} arms points, a comma-separated list of {@code <point>:crash} (the
 * first time the point is reached) or {@code <point>:crash@<n>} (the n-th time), e.g.
 * {@code -Dpageserver.faults=before-store:crash@20}. Unarmed, a point costs one array read.
 */
public final class Faults {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Faults.class);
    /** The exit status of a process killed by a fault, as a shell (and Process.exitValue) reports a SIGKILL. */
    public static final int EXIT_STATUS = 137;

    /** Where a fault can be injected. */
    public enum Point {
        /** WAL received and decoded, nothing of the batch stored yet. */
        BEFORE_STORE("before-store"),
        /** A batch of WAL written to the store, its durable LSN not yet reported to the primary. */
        MID_FLUSH("mid-flush"),
        /** Between two batches of page images written by compaction. */
        IMAGE("image"),
        /** Between two batches of versions removed below the retention horizon. */
        RETENTION("retention");

        private final String label;

        Point(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        static Point ofLabel(String label) {
            for (Point p : values()) {
                if (p.label.equals(label)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("pageserver.faults: no fault point \"" + label + "\" (points: "
                + java.util.Arrays.stream(values()).map(Point::label).toList() + ")");
        }
    }

    /** Per point: hits left before the crash (0: unarmed). */
    private static final AtomicInteger[] ARMED = parse(System.getProperty("pageserver.faults", ""));

    private Faults() {
    }

    /** Called at the point: halts the process if it is armed and this is the hit it waits for. */
    public static void reach(Point p) {
        AtomicInteger left = ARMED[p.ordinal()];
        if (left != null && left.decrementAndGet() == 0) {
            LOG.error("fault injected at {}: the process halts", p.label());
            // Runtime.halt is not a kill -9: it runs the C library's exit handlers, and RocksDB's
            // static destructors can wait there forever for a background job. A SIGKILL cannot.
            try {
                new ProcessBuilder("kill", "-KILL", Long.toString(ProcessHandle.current().pid())).start().waitFor();
            } catch (java.io.IOException | InterruptedException e) {
                // no kill(1): the next best thing
            }
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }

    static AtomicInteger[] parse(String spec) {
        Map<Point, Integer> hits = new EnumMap<>(Point.class);
        for (String item : spec.split(",")) {
            String s = item.trim();
            if (s.isEmpty()) {
                continue;
            }
            String[] pa = s.split(":", 2);
            if (pa.length != 2 || !(pa[1].equals("crash") || pa[1].startsWith("crash@"))) {
                throw new IllegalArgumentException("pageserver.faults: \"" + s
                    + "\" is not <point>:crash or <point>:crash@<n>");
            }
            int n;
            try {
                n = pa[1].equals("crash") ? 1 : Integer.parseInt(pa[1].substring("crash@".length()));
            } catch (NumberFormatException e) {
                n = 0;
            }
            if (n < 1) {
                throw new IllegalArgumentException("pageserver.faults: \"" + s + "\": the hit must be a whole number, 1 or more");
            }
            hits.put(Point.ofLabel(pa[0]), n);
        }
        AtomicInteger[] armed = new AtomicInteger[Point.values().length];
        hits.forEach((p, n) -> armed[p.ordinal()] = new AtomicInteger(n));
        return armed;
    }
}
