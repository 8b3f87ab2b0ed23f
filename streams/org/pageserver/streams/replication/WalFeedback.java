package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;

/**
 * What the WAL receiver reports to the primary in standby status updates
 * (StandbyReplyMessage, walreceiver.c): written and flushed = durably stored, applied =
 * indexed. The flush position also advances the replication slot, so the primary keeps
 * exactly what is not stored yet. Thread-safe: the consumer of the stream calls
 * {@link #update}, the receiver's stage reads it, told by {@link #onUpdate}.
 */
public final class WalFeedback {
    private volatile Lsn written = Lsn.INVALID;
    private volatile Lsn flushed = Lsn.INVALID;
    private volatile Lsn applied = Lsn.INVALID;
    private volatile boolean dirty;
    private boolean cancelled;
    private Runnable onCancel;
    private volatile Runnable onUpdate = () -> { };

    public WalFeedback(Lsn initial) {
        written = initial;
        flushed = initial;
        applied = initial;
    }

    public void update(Lsn written, Lsn flushed, Lsn applied) {
        this.written = written;
        this.flushed = flushed;
        this.applied = applied;
        this.dirty = true;
        onUpdate.run();
    }

    /** Runs {@code hook} after every {@link #update}, on the updating thread: it must be quick. */
    public void onUpdate(Runnable hook) {
        onUpdate = hook;
    }

    public Lsn written() {
        return written;
    }

    public Lsn flushed() {
        return flushed;
    }

    public Lsn applied() {
        return applied;
    }

    /**
     * The consumer is gone: the receiver stops at once, in its handshake (its socket is closed
     * under it) or streaming.
     */
    public void cancel() {
        Runnable hook;
        synchronized (this) {
            cancelled = true;
            hook = onCancel;
            onCancel = null;
        }
        if (hook != null) {
            hook.run();
        }
    }

    public synchronized boolean isCancelled() {
        return cancelled;
    }

    /** Runs {@code hook} on {@link #cancel} (at once if already cancelled). */
    public void onCancel(Runnable hook) {
        boolean now;
        synchronized (this) {
            now = cancelled;
            if (!now) {
                onCancel = hook;
            }
        }
        if (now) {
            hook.run();
        }
    }

    /** True once since the last call if positions changed: the receiver then reports promptly. */
    public boolean takeDirty() {
        boolean d = dirty;
        dirty = false;
        return d;
    }
}
