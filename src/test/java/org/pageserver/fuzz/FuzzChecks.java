package org.pageserver.fuzz;

import java.lang.management.ManagementFactory;

/**
 * What every fuzz target asserts besides "only the decoder's declared exceptions escape": that
 * decoding one input allocates in proportion to the input, never in proportion to a length
 * field inside it. A declared length of 2 GB must be refused before a buffer of that size
 * exists; the JVM counts every byte a thread allocates, so a buffer sized by an unchecked
 * length shows up here even when the heap could hold it.
 */
public final class FuzzChecks {

    /**
     * Allowance independent of the input: pages, decoder buffers, exception messages. The
     * lengths refused here are PostgreSQL's: records up to 1020 MB, files up to 256 MB, messages
     * up to 64 MB; a buffer of any of them is far past this.
     */
    public static final long FIXED_ALLOWANCE = 32L << 20;
    /** Allowance per input byte: copies of the input into frames, records, strings and pages. */
    public static final long PER_INPUT_BYTE = 64;

    /** Runs of a step over the limit before it counts as a finding. */
    static final int TRIES = 3;

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private FuzzChecks() {
    }

    /** A decoding step that may throw only what its decoder declares. */
    public interface Step {
        void run() throws Exception;
    }

    /**
     * Runs {@code step} and fails if it allocated more than {@link #FIXED_ALLOWANCE} plus
     * {@link #PER_INPUT_BYTE} per byte of an input of {@code inputLength} bytes. A step over the
     * limit is run again, up to {@link #TRIES} times in all, and judged by its last run: the
     * first use of a class (its loading, the fuzzer's instrumentation of it, static tables,
     * lambdas) is paid once per JVM, not per input.
     */
    public static void boundedAllocation(int inputLength, Step step) throws Exception {
        long limit = FIXED_ALLOWANCE + PER_INPUT_BYTE * inputLength;
        long used = allocationOf(step);
        for (int i = 1; i < TRIES && used > limit; i++) {
            used = allocationOf(step);
        }
        if (used > limit) {
            throw new AssertionError("decoding " + inputLength + " bytes allocated " + used
                + " bytes, more than the " + limit + " allowed: a buffer sized by a length field?");
        }
    }

    private static long allocationOf(Step step) throws Exception {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        step.run();
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    /** The bytes allocated by the current thread so far (for tests of single crafted inputs). */
    public static long allocatedBytes() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }

    /** A deterministic split of {@code n} bytes into chunks, driven by {@code seed}: 1 to 9000 bytes each. */
    public static int[] chunkSizes(long seed, int n) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int[] sizes = new int[n];
        int count = 0;
        int left = n;
        while (left > 0) {
            int kind = r.nextInt(4);
            int c = switch (kind) {
                case 0 -> 1 + r.nextInt(8);
                case 1 -> 1 + r.nextInt(100);
                case 2 -> 1 + r.nextInt(1000);
                default -> 1 + r.nextInt(9000);
            };
            c = Math.min(c, left);
            sizes[count++] = c;
            left -= c;
        }
        return java.util.Arrays.copyOf(sizes, count);
    }
}
