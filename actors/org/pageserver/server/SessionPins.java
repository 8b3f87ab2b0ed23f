package org.pageserver.server;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.storage.Horizon;

/**
 * The LSNs one pgwire connection pinned with {@code pin}: each holds its tenant's retention
 * horizon at or below it until the connection closes (the way a session-level advisory lock
 * lives as long as its session). A file-less compute's mount holds one for as long as it runs.
 * Thread-safe: a pin is added when its command completes, the connection closes on another
 * thread.
 */
final class SessionPins implements AutoCloseable {
    private final List<Horizon.Pin> held = new ArrayList<>();
    private boolean closed;

    /** Keeps {@code pin} until the connection closes; one that closed meanwhile releases it now. */
    synchronized void add(Horizon.Pin pin) {
        if (closed) {
            pin.close();
        } else {
            held.add(pin);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        held.forEach(Horizon.Pin::close);
        held.clear();
    }
}
