package org.pageserver.storage;

import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.pageserver.protocol.Lsn;

/**
 * The retention horizon of one tenant: the oldest LSN its store can still be read as of
 * (versions older than it may have been collapsed into images and removed), and the LSNs that
 * readers pin against it. The horizon only moves forward, never past a pinned LSN, and is
 * made durable before anything older is removed.
 */
public final class Horizon {
    private volatile Lsn lsn;
    /** Pinned LSN to how many pins hold it; guarded by this. */
    private final TreeMap<Lsn, Integer> pins = new TreeMap<>();

    Horizon(Lsn lsn) {
        this.lsn = lsn;
    }

    Lsn lsn() {
        return lsn;
    }

    void check(Lsn at, Supplier<String> systemId) {
        Lsn h = lsn;
        if (h.isValid() && at.isBefore(h)) {
            throw new BelowHorizonException(at, h, systemId.get());
        }
    }

    synchronized Pin pin(Lsn at, Supplier<String> systemId) {
        check(at, systemId);
        pins.merge(at, 1, Integer::sum);
        return new Pin(at);
    }

    /** The lowest pinned LSN, or null. */
    synchronized Lsn lowestPin() {
        return pins.isEmpty() ? null : pins.firstKey();
    }

    /**
     * Moves the horizon to {@code to}, or to the lowest pin below it; {@code persist} stores the
     * new horizon before it is published. Returns the horizon after the call.
     */
    synchronized Lsn advance(Lsn to, Consumer<Lsn> persist) {
        Lsn target = pins.isEmpty() ? to : Lsn.min(to, pins.firstKey());
        if (!target.isAfter(lsn)) {
            return lsn;
        }
        persist.accept(target);
        lsn = target;
        return target;
    }

    private synchronized void release(Lsn at) {
        pins.computeIfPresent(at, (k, n) -> n == 1 ? null : n - 1);
    }

    /** Holds the horizon at or below its LSN until closed. Closing twice releases once. */
    public final class Pin implements AutoCloseable {
        private final Lsn at;
        private boolean closed;

        private Pin(Lsn at) {
            this.at = at;
        }

        public Lsn lsn() {
            return at;
        }

        @Override
        public void close() {
            synchronized (Horizon.this) {
                if (closed) {
                    return;
                }
                closed = true;
                release(at);
            }
        }
    }
}
