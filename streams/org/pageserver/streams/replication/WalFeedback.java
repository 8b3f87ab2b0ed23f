package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;

/**
 * What the WAL receiver reports to the primary in standby status updates
 * (StandbyReplyMessage, walreceiver.c): written and flushed = durably stored, applied =
 * indexed. The flush position also advances the replication slot, so the primary keeps
 * exactly what is not stored yet. Thread-safe: the consumer of the stream calls
 * {@link #update}, the receiver's connection thread reads it.
 */
public final class WalFeedback {
    private volatile Lsn written = Lsn.INVALID;
    private volatile Lsn flushed = Lsn.INVALID;
    private volatile Lsn applied = Lsn.INVALID;
    private volatile boolean dirty;
    private boolean cancelled;
    private Runnable onCancel;

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
     * The consumer is gone: the receiver stops at once, even while blocked reading a quiet
     * connection (its socket is closed under it).
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
