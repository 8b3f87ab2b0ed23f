package org.pageserver.streams.tcp;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many threads of this process may be looking for work idly at once (the selector between
 * events, serving and read threads between tasks): no more than there are CPUs for the process.
 *
 * <p>Why: two idle threads that look by yielding, sharing one CPU, yield to each other forever,
 * so neither notices that the CPU is wanted and neither parks; measured with the server pinned
 * to one core, those yields were 15% of its CPU. A thread that gets no permit parks or sleeps at
 * once, as if its spin time were 0.
 */
public final class IdleSpinners {

    private static final int MAX = Math.max(1, Runtime.getRuntime().availableProcessors());
    private static final AtomicInteger SPINNING = new AtomicInteger();

    private IdleSpinners() {
    }

    /** True if the caller may spin; it must call {@link #stop} when it stops. */
    public static boolean tryStart() {
        while (true) {
            int n = SPINNING.get();
            if (n >= MAX) {
                return false;
            }
            if (SPINNING.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    public static void stop() {
        SPINNING.decrementAndGet();
    }
}
