package org.pageserver.it;

import java.time.Duration;
import java.util.function.Supplier;

/** Waiting for a condition, polled, with a deadline and a message saying what was not reached. */
final class Conditions {
    private Conditions() {
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void await(Duration timeout, Condition c, Supplier<String> what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!c.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout + ": " + what.get());
            }
            Thread.sleep(50);
        }
    }
}
