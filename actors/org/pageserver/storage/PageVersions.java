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
 * each block's versions newest first ({@link Keys}): a seek to (block, ~L), then {@code next}
 * back to the image. The family's iterators are in prefix mode (a bloom filter per block
 * prefix lets a seek skip the sorted runs without the block), so nothing here steps past a
 * block's versions into the next block's. As an object: a reader of many blocks as of one LSN
 * with one iterator, which does not fill the block cache (a base backup reads every block once;
 * stepping from one block's versions to the next one's instead of seeking was measured slower:
 * each image stepped over costs RocksDB a data block to decompress).
 */
public final class PageVersions implements AutoCloseable {
    private static final byte FLAG_STARTS_CHAIN = 1;

    private final RocksIterator it;
    private final Lsn lsn;
    private final Runnable release;
    private final Consumer<RocksIterator> check;
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
        it.seek(Keys.page(rel, blkno, lsn.value(), Keys.KIND_IMAGE));
        PageHistory h = walk(it, Keys.blockPrefix(rel, blkno), Lsn.INVALID);
        check.accept(it);
        return h;
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

    /**
     * A record's stored value (its key holds the end LSN): a flags byte (FLAG_STARTS_CHAIN), the
     * {@link PageChange} byte, the start LSN (u64), the raw record.
     */
    static byte[] recordValue(Lsn start, PageChange change, boolean startsChain, byte[] raw) {
        byte[] v = new byte[10 + raw.length];
        v[0] = startsChain ? FLAG_STARTS_CHAIN : 0;
        v[1] = change.toByte();
        ByteBuffer.wrap(v, 2, 8).order(ByteOrder.BIG_ENDIAN).putLong(start.value());
        System.arraycopy(raw, 0, v, 10, raw.length);
        return v;
    }

    /** The start LSN of a {@link #recordValue}. */
    static Lsn recordStart(byte[] v) {
        return new Lsn(ByteBuffer.wrap(v, 2, 8).order(ByteOrder.BIG_ENDIAN).getLong());
    }

    /** The {@link PageChange} of a {@link #recordValue}. */
    static PageChange recordChange(byte[] v) {
        return PageChange.fromByte(v[1]);
    }

    /** A stored record from its end LSN and its {@link #recordValue}. */
    static PageHistory.StoredRecord record(Lsn end, byte[] v) {
        boolean starts = (v[0] & FLAG_STARTS_CHAIN) != 0;
        byte[] raw = Arrays.copyOfRange(v, 10, v.length);
        return new PageHistory.StoredRecord(recordStart(v), end, recordChange(v), starts, raw);
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
