package org.pageserver.engine;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.RecordCheck;
import org.pageserver.redo.RedoException;

/**
 * The decoding half of one tenant's WAL-to-store path: {@link #receive} and {@link #takeBatch}
 * run in the WAL-stream actor (decoding is CPU work); the batches it takes are plain values,
 * stored by the other half, {@link BatchWriter}, on the blocking dispatcher. The two halves
 * share no state, so neither is touched from the other's thread.
 *
 * <p>The raw WAL is stored only up to the last complete record: that is the durable LSN, and a
 * reconnect resumes exactly there, so the raw WAL has no gap and no overlap.
 */
public final class WalIngest {
    private final WalDecoder decoder;

    private final List<WalRecord> pendingRecords = new ArrayList<>();
    /** What the raw buffer starts with and never shrinks below. */
    private static final int RAW_MIN_CAPACITY = 1 << 16;
    /** Raw bytes from {@code rawStart} to the last byte received. */
    private byte[] raw = new byte[RAW_MIN_CAPACITY];
    private int rawLen;
    private Lsn rawStart;
    private Lsn received;
    private long decodeErrors;
    private long recordsDecoded;
    /** End of the last record accepted: where the raw WAL stops if a record is refused. */
    private Lsn lastAcceptedEnd;
    /** Set once a record was refused or the WAL could not be decoded: nothing at or past it is stored. */
    private Lsn stoppedAt;
    /** Where the stored raw WAL ends when a record was refused (the decoder has moved past it). */
    private Lsn refusedBoundary;

    /** @param decodeFrom where the stream starts: a segment start, or a record boundary */
    public WalIngest(Lsn decodeFrom, int walSegSize) {
        this.decoder = new WalDecoder(decodeFrom, walSegSize);
        this.rawStart = decodeFrom;
        this.received = decodeFrom;
        this.lastAcceptedEnd = decodeFrom;
    }

    /**
     * Decodes a received piece of WAL. The piece must start where the previous one ended.
     *
     * @throws WalDecodeException at the first bad record; the good records before it stay pending
     */
    public void receive(Lsn start, byte[] data) {
        if (!start.equals(received)) {
            throw new WalDecodeException("WAL stream jumped from " + received + " to " + start, received);
        }
        ensureRaw(rawLen + data.length);
        System.arraycopy(data, 0, raw, rawLen, data.length);
        rawLen += data.length;
        received = start.plus(data.length);
        try {
            decoder.feed(data, 0, data.length, this::accept);
        } catch (WalDecodeException e) {
            decodeErrors++;
            if (stoppedAt == null) {
                stoppedAt = e.lsn();
            }
            throw e;
        }
    }

    /**
     * A record decoded: kept if RecordCheck passes it. A refused record stops ingest at its
     * start; the records before it are still stored (see takeBatch).
     */
    private void accept(WalRecord r) {
        try {
            RecordCheck.check(r);
        } catch (RedoException e) {
            refusedBoundary = lastAcceptedEnd;
            throw new WalDecodeException("record refused: " + e.getMessage().replaceFirst(" at [0-9A-F]+/[0-9A-F]+$", ""),
                r.startLsn());
        }
        lastAcceptedEnd = r.endLsn();
        recordsDecoded++;
        pendingRecords.add(r);
    }

    /**
     * How far readers may go: everything received, unless ingest stopped at a record, whose
     * changes are not stored: then not past that record's start.
     */
    public Lsn readableUpTo() {
        return stoppedAt == null || received.isBefore(stoppedAt) ? received : stoppedAt;
    }

    /** The record boundary up to which raw WAL and records are stored. */
    private Lsn boundary() {
        return Lsn.max(refusedBoundary != null ? refusedBoundary : decoder.resumeLsn(), rawStart);
    }

    /** Records decoded and accepted since this ingest started. */
    public long recordsDecoded() {
        return recordsDecoded;
    }

    public Lsn received() {
        return received;
    }

    public Lsn lastRecordEnd() {
        return decoder.lastRecordEnd();
    }

    public long pendingBytes() {
        return rawLen;
    }

    public long decodeErrors() {
        return decodeErrors;
    }

    public boolean hasPending() {
        return !pendingRecords.isEmpty() || boundary().isAfter(rawStart);
    }

    /** Moves what was decoded so far into a batch to be written. */
    public WalBatch takeBatch() {
        Lsn boundary = boundary();
        int n = (int) (boundary.value() - rawStart.value());
        byte[] walBytes = new byte[n];
        System.arraycopy(raw, 0, walBytes, 0, n);
        int needed = rawLen;
        System.arraycopy(raw, n, raw, 0, rawLen - n);
        rawLen -= n;
        if (raw.length > 4 * Math.max(RAW_MIN_CAPACITY, needed)) {
            // a burst grew it (the first segment after a reconnect may come at once): an idle
            // tenant must not keep megabytes of heap for it, and there are many tenants
            raw = java.util.Arrays.copyOf(raw, 2 * Math.max(RAW_MIN_CAPACITY, needed));
        }
        WalBatch b = new WalBatch(List.copyOf(pendingRecords), rawStart, walBytes, boundary, readableUpTo());
        rawStart = boundary;
        pendingRecords.clear();
        return b;
    }

    private void ensureRaw(int size) {
        if (size > raw.length) {
            byte[] bigger = new byte[Math.max(size, raw.length * 2)];
            System.arraycopy(raw, 0, bigger, 0, rawLen);
            raw = bigger;
        }
    }
}
