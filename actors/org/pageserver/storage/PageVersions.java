package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.redo.PageChange;
import org.rocksdb.RocksIterator;

/**
 * Reads block histories (see {@link PageHistory}) from the page column family, whose keys sort
 * each block's versions newest first ({@link Keys}). As an object: a reader of many blocks as
 * of one LSN with one iterator that only moves forward, for callers that read blocks in
 * ascending order (a base backup). The next block's versions usually follow the point where
 * the last walk stopped, a few keys on, so a few {@code next} calls replace a seek.
 */
public final class PageVersions implements AutoCloseable {
    /**
     * Steps forward tried before a seek. One: enough when the last block read had a single
     * version (the next key is then the next block's newest). More would step over older
     * versions, and each image stepped over costs RocksDB a data block to decompress (an 8 kB
     * image fills one), where a seek skips them by the index (measured: with 8 steps, stepping
     * was most of the backup's native time).
     */
    private static final int MAX_STEPS = 1;
    static final byte FLAG_STARTS_CHAIN = 1;

    private final RocksIterator it;
    private final Lsn lsn;
    private final Runnable release;
    private final Consumer<RocksIterator> check;
    private byte[] lastTarget;
    private boolean closed;

    PageVersions(RocksIterator it, Lsn lsn, Runnable release, Consumer<RocksIterator> check) {
        this.it = it;
        this.lsn = lsn;
        this.release = release;
        this.check = check;
    }

    /**
     * The history of one block as of the reader's LSN, as {@link TenantStore#pageHistory} reads
     * it. Blocks asked in ascending order are read without seeking when they are close.
     */
    public PageHistory history(RelTag rel, int blkno) {
        byte[] target = Keys.page(rel, blkno, lsn.value(), Keys.KIND_IMAGE);
        if (!reached(target)) {
            it.seek(target);
        }
        lastTarget = target;
        PageHistory h = walk(it, Keys.blockPrefix(rel, blkno), Lsn.INVALID);
        check.accept(it);
        return h;
    }

    /**
     * Steps the iterator forward to the first key at or after {@code target}, if that is
     * within a few keys. Exact because the iterator only ever moved forward from keys below
     * every later target: the first key reached at or after the target is what a seek finds.
     */
    private boolean reached(byte[] target) {
        if (lastTarget == null || Arrays.compareUnsigned(target, lastTarget) <= 0) {
            return false;
        }
        for (int i = 0; i < MAX_STEPS && it.isValid(); i++) {
            if (Arrays.compareUnsigned(it.key(), target) >= 0) {
                return true;
            }
            it.next();
        }
        return false;
    }

    /** One block's history as of {@code lsn}, with a fresh seek. */
    static PageHistory history(RocksIterator it, RelTag rel, int blkno, Lsn lsn, Lsn since) {
        it.seek(Keys.page(rel, blkno, lsn.value(), Keys.KIND_IMAGE));
        return walk(it, Keys.blockPrefix(rel, blkno), since);
    }

    /**
     * From the iterator's position (the newest version at or before the LSN, if the block has
     * one), the versions back to the newest image or chain start; with {@code since}, no
     * further back than it (see {@link TenantStore#pageHistorySince}).
     */
    static PageHistory walk(RocksIterator it, byte[] prefix, Lsn since) {
        List<PageHistory.StoredRecord> newestFirst = new ArrayList<>();
        while (it.isValid()) {
            byte[] key = it.key();
            if (!Keys.hasPrefix(key, prefix)) {
                break;
            }
            Lsn at = new Lsn(Keys.pageLsnOf(key));
            if (since.isValid() && !at.isAfter(since)) {
                return new PageHistory(null, since, oldestFirst(newestFirst));
            }
            if (Keys.pageKindOf(key) == Keys.KIND_IMAGE) {
                return new PageHistory(it.value(), at, oldestFirst(newestFirst));
            }
            PageHistory.StoredRecord r = record(at, it.value());
            newestFirst.add(r);
            if (r.startsChain()) {
                break;
            }
            it.next();
        }
        return new PageHistory(null, since.isValid() ? since : Lsn.INVALID, oldestFirst(newestFirst));
    }

    /** A record's stored value: flags, the PageChange byte, the start LSN (u64), the raw record. */
    static PageHistory.StoredRecord record(Lsn end, byte[] v) {
        boolean starts = (v[0] & FLAG_STARTS_CHAIN) != 0;
        long start = ByteBuffer.wrap(v, 2, 8).order(ByteOrder.BIG_ENDIAN).getLong();
        byte[] raw = Arrays.copyOfRange(v, 10, v.length);
        return new PageHistory.StoredRecord(new Lsn(start), end, PageChange.fromByte(v[1]), starts, raw);
    }

    private static List<PageHistory.StoredRecord> oldestFirst(List<PageHistory.StoredRecord> newestFirst) {
        List<PageHistory.StoredRecord> out = new ArrayList<>(newestFirst.size());
        for (int i = newestFirst.size() - 1; i >= 0; i--) {
            out.add(newestFirst.get(i));
        }
        return List.copyOf(out);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            it.close();
            release.run();
        }
    }
}
