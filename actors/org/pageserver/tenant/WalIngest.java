package org.pageserver.tenant;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.RecordCheck;
import org.pageserver.redo.RedoException;
import org.pageserver.redo.StorageEffects;
import org.pageserver.redo.WalRedo;
import org.pageserver.storage.TenantStore;

/**
 * The WAL-to-store path of one tenant, split in two halves so that the WAL-stream actor never
 * blocks: {@link #receive} and {@link #takeBatch} run in the actor (decoding is CPU work),
 * {@link Batch#write} runs on the blocking dispatcher, one batch at a time (the actor keeps at
 * most one in flight, which also makes consecutive chunks share one fsync).
 *
 * <p>The raw WAL is stored only up to the last complete record: that is the durable LSN, and a
 * reconnect resumes exactly there, so the raw WAL has no gap and no overlap.
 */
final class WalIngest {
    private final TenantStore store;
    private final Lsn indexFrom;
    private final WalDecoder decoder;

    private final List<WalRecord> pendingRecords = new ArrayList<>();
    /** Raw bytes from {@code rawStart} to the last byte received. */
    private byte[] raw = new byte[1 << 16];
    private int rawLen;
    private Lsn rawStart;
    private Lsn received;
    private long decodeErrors;
    /** Relation sizes as last written (-1: dropped); touched only inside {@link Batch#write}, one at a time. */
    private final Map<RelTag, Integer> relSizes = new HashMap<>();
    /** End of the last record accepted: where the raw WAL stops if a record is refused. */
    private Lsn lastAcceptedEnd;
    /** Set once a record was refused or the WAL could not be decoded: nothing at or past it is stored. */
    private Lsn stoppedAt;
    /** Where the stored raw WAL ends when a record was refused (the decoder has moved past it). */
    private Lsn refusedBoundary;

    /**
     * @param indexFrom  records ending at or before this LSN are already in the base images
     *                   and are not indexed (their raw WAL is still kept)
     * @param decodeFrom where the stream starts: a segment start, or a record boundary
     */
    WalIngest(TenantStore store, Lsn indexFrom, Lsn decodeFrom, int walSegSize) {
        this.store = store;
        this.indexFrom = indexFrom;
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
    void receive(Lsn start, byte[] data) {
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
        pendingRecords.add(r);
    }

    /**
     * How far readers may go: everything received, unless ingest stopped at a record, whose
     * changes are not stored: then not past that record's start.
     */
    Lsn readableUpTo() {
        return stoppedAt == null || received.isBefore(stoppedAt) ? received : stoppedAt;
    }

    /** The record boundary up to which raw WAL and records are stored. */
    private Lsn boundary() {
        return Lsn.max(refusedBoundary != null ? refusedBoundary : decoder.resumeLsn(), rawStart);
    }

    Lsn received() {
        return received;
    }

    Lsn lastRecordEnd() {
        return decoder.lastRecordEnd();
    }

    long pendingBytes() {
        return rawLen;
    }

    long decodeErrors() {
        return decodeErrors;
    }

    boolean hasPending() {
        return !pendingRecords.isEmpty() || boundary().isAfter(rawStart);
    }

    /** Moves what was decoded so far into a batch to be written. */
    Batch takeBatch() {
        Lsn boundary = boundary();
        int n = (int) (boundary.value() - rawStart.value());
        byte[] walBytes = new byte[n];
        System.arraycopy(raw, 0, walBytes, 0, n);
        System.arraycopy(raw, n, raw, 0, rawLen - n);
        rawLen -= n;
        Batch b = new Batch(List.copyOf(pendingRecords), rawStart, walBytes, boundary, readableUpTo());
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

    /** Records and raw WAL up to a record boundary, to be stored atomically. */
    final class Batch {
        final List<WalRecord> records;
        final Lsn walStart;
        final byte[] wal;
        /** The record boundary the batch ends at: the new durable LSN once written. */
        final Lsn durableLsn;
        /** Everything received when the batch was taken; readers may wait up to here once it is written. */
        final Lsn receivedLsn;
        /** Set by {@link #write}: what the written batch made stale in a page cache. */
        volatile org.pageserver.storage.StoreChanges changes = org.pageserver.storage.StoreChanges.NONE;

        Batch(List<WalRecord> records, Lsn walStart, byte[] wal, Lsn durableLsn, Lsn receivedLsn) {
            this.records = records;
            this.walStart = walStart;
            this.wal = wal;
            this.durableLsn = durableLsn;
            this.receivedLsn = receivedLsn;
        }

        /** Stores the batch durably. Blocking: runs on the blocking dispatcher. */
        void write() {
            try (TenantStore.Batch b = store.newBatch()) {
                for (WalRecord r : records) {
                    if (r.endLsn().compareTo(indexFrom) <= 0) {
                        continue;
                    }
                    index(b, r);
                }
                if (wal.length > 0) {
                    b.putWal(walStart, wal);
                }
                b.setDurableLsn(durableLsn, durableLsn);
                b.commit();
                changes = b.changes();
            }
        }

        private void index(TenantStore.Batch b, WalRecord r) {
            for (BlockRef ref : r.blocks()) {
                boolean startsChain = ref.willInit() || (ref.hasImage() && ref.applyImage());
                b.putRecord(ref.rel(), ref.blkno(), r.startLsn(), r.endLsn(), ref.blockId(), startsChain, r.raw());
                extend(b, ref.rel(), ref.blkno(), r);
            }
            for (WalRedo.ImplicitBlock ib : WalRedo.implicitBlocks(r)) {
                b.putRecord(ib.rel(), ib.blkno(), r.startLsn(), r.endLsn(), WalRedo.IMPLICIT_VM_BLOCK_ID, false, r.raw());
                if (relSize(ib.rel()) >= 0) {
                    extend(b, ib.rel(), ib.blkno(), r);
                }
            }
            StorageEffects fx = StorageEffects.of(r);
            if (!fx.isEmpty()) {
                applyStorageEffects(b, r, fx);
            }
        }

        /** Relation files created, truncated and dropped, versioned at the record's LSN. */
        private void applyStorageEffects(TenantStore.Batch b, WalRecord r, StorageEffects fx) {
            for (RelTag rel : fx.created()) {
                if (relSize(rel) < 0) {
                    b.putRelSize(rel, r.endLsn(), 0);
                    relSizes.put(rel, 0);
                }
            }
            for (StorageEffects.Truncation t : fx.truncations()) {
                int size = relSize(t.rel());
                if (size >= 0 && Integer.compareUnsigned(t.nblocks(), size) < 0) {
                    b.putRelSize(t.rel(), r.endLsn(), t.nblocks());
                    relSizes.put(t.rel(), t.nblocks());
                }
            }
            for (StorageEffects.RelMapUpdate m : fx.relMaps()) {
                b.putFile(m.path(), r.endLsn(), m.contents());
            }
            for (RelTag rel : fx.dropped()) {
                if (relSize(rel) >= 0) {
                    b.dropRel(rel, r.endLsn());
                    relSizes.put(rel, -1);
                }
            }
        }

        /** A block past the end extends the relation (as smgrextend in redo does). */
        private void extend(TenantStore.Batch b, RelTag rel, int blkno, WalRecord r) {
            int size = relSize(rel);
            long needed = Integer.toUnsignedLong(blkno) + 1;
            if (size < 0 || needed > Integer.toUnsignedLong(size)) {
                b.putRelSize(rel, r.endLsn(), (int) needed);
                relSizes.put(rel, (int) needed);
            }
        }

        /** Current size, or -1 when the relation does not exist. */
        private int relSize(RelTag rel) {
            Integer cached = relSizes.get(rel);
            if (cached != null) {
                return cached;
            }
            OptionalInt stored = store.relSize(rel, Lsn.MAX);
            int size = stored.orElse(-1);
            relSizes.put(rel, size);
            return size;
        }
    }
}
