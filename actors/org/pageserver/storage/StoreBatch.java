package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.redo.PageChange;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * One atomic write to a {@link TenantStore}: everything in it becomes visible and durable
 * together. It encodes each kind of version into its family's key ({@link Keys}) and value,
 * and keeps what it changed for the page cache ({@link #changes}) and the chain lengths.
 * From {@link TenantStore#newBatch}, which holds the store open until the batch is closed.
 * Close it.
 */
public final class StoreBatch implements AutoCloseable {
    private final StoreDb db;
    private final ChainLengths chains;
    /** Lets {@link TenantStore#close} go on once the batch is closed. */
    private final Runnable release;
    private final WriteBatch wb = new WriteBatch();
    private int count;
    private boolean released;
    /** Blocks given a record or an image in this batch. */
    private final Set<BufferTag> pagesChanged = new HashSet<>();
    /** The last size given to each relation in this batch; -1: dropped. */
    private final Map<RelTag, Integer> sizesChanged = new HashMap<>();
    /** Records given to each block in this batch (for the chain lengths, once committed). */
    private final Map<BufferTag, Integer> recordsAdded = new HashMap<>();

    StoreBatch(StoreDb db, ChainLengths chains, Runnable release) {
        this.db = db;
        this.chains = chains;
        this.release = release;
    }

    /** The tenant metadata; once committed, the tenant exists and re-attaches on restart. */
    public StoreBatch putMeta(TenantMeta m) {
        StoreMeta.put(this, m);
        return this;
    }

    /** A page image: a base backup's page, or one materialized from a long record chain. */
    public StoreBatch putImage(RelTag rel, int blkno, Lsn lsn, byte[] image) {
        put(db.page, Keys.page(rel, blkno, lsn.value(), Keys.KIND_IMAGE), image);
        pagesChanged.add(new BufferTag(rel, blkno));
        return this;
    }

    /**
     * A WAL record, stored under one page it changes, keyed by its end LSN (the value:
     * {@link PageVersions#recordValue}).
     */
    public StoreBatch putRecord(RelTag rel, int blkno, Lsn start, Lsn end, PageChange change, boolean startsChain,
                                byte[] raw) {
        put(db.page, Keys.page(rel, blkno, end.value(), Keys.KIND_RECORD),
            PageVersions.recordValue(start, change, startsChain, raw));
        BufferTag tag = new BufferTag(rel, blkno);
        pagesChanged.add(tag);
        recordsAdded.merge(tag, 1, Integer::sum);
        return this;
    }

    /** The relation has {@code nblocks} blocks from {@code lsn} on. */
    public StoreBatch putRelSize(RelTag rel, Lsn lsn, int nblocks) {
        put(db.relsize, Keys.relsize(rel, lsn.value()), ByteBuffer.allocate(4).putInt(nblocks).array());
        sizesChanged.put(rel, nblocks);
        return this;
    }

    /** The relation does not exist from {@code lsn} on. */
    public StoreBatch dropRel(RelTag rel, Lsn lsn) {
        put(db.relsize, Keys.relsize(rel, lsn.value()), new byte[0]);
        sizesChanged.put(rel, -1);
        return this;
    }

    public StoreBatch putWal(Lsn start, byte[] bytes) {
        put(db.wal, Keys.wal(start.value()), bytes);
        return this;
    }

    /** A version of a non-relation file; null content records its removal. */
    public StoreBatch putFile(String path, Lsn lsn, byte[] content) {
        put(db.file, Keys.file(path, lsn.value()),
            content == null ? new byte[0] : FileReads.value(FileReads.FILE_REGULAR, content));
        return this;
    }

    /**
     * A symbolic link from {@code lsn} on, as a data directory has them: {@code pg_tblspc/<oid>}
     * pointing at a tablespace's location. Removed with {@code putFile(path, lsn, null)}.
     */
    public StoreBatch putSymlink(String path, Lsn lsn, String target) {
        put(db.file, Keys.file(path, lsn.value()),
            FileReads.value(FileReads.FILE_SYMLINK, target.getBytes(StandardCharsets.UTF_8)));
        return this;
    }

    public StoreBatch setDurableLsn(Lsn durable, Lsn lastRecord) {
        StoreMeta.putDurableLsn(this, durable, lastRecord);
        return this;
    }

    public int count() {
        return count;
    }

    /**
     * What this batch changes that a page cache may hold: the blocks given a record or an
     * image, and the relations given a new size. Readers caching pages as of the newest LSN
     * use it to know which of them the batch makes stale.
     */
    public StoreChanges changes() {
        return new StoreChanges(Set.copyOf(pagesChanged), Map.copyOf(sizesChanged));
    }

    public long sizeBytes() {
        return wb.getDataSize();
    }

    /** An entry of the {@code default} family ({@link StoreMeta}). */
    void putEntry(byte[] k, byte[] v) {
        put(db.meta, k, v);
    }

    /** Removes one key (retention: a version older than the horizon). */
    void delete(ColumnFamilyHandle cf, byte[] k) {
        try {
            wb.delete(cf, k);
            count++;
        } catch (RocksDBException e) {
            throw new StorageException("write batch failed: " + e.getMessage(), e);
        }
    }

    /** Removes the keys in [from, to) (retention of the raw WAL: one range tombstone). */
    void deleteRange(ColumnFamilyHandle cf, byte[] from, byte[] to) {
        try {
            wb.deleteRange(cf, from, to);
            count++;
        } catch (RocksDBException e) {
            throw new StorageException("write batch failed: " + e.getMessage(), e);
        }
    }

    private void put(ColumnFamilyHandle cf, byte[] k, byte[] v) {
        try {
            wb.put(cf, k, v);
            count++;
        } catch (RocksDBException e) {
            throw new StorageException("write batch failed: " + e.getMessage(), e);
        }
    }

    public void commit() {
        commit(db.writeOptions);
    }

    /**
     * Commits without waiting for the disk: for what is only an optimisation or can be
     * redone (the compaction's images and deletions). Atomic all the same: after a crash the
     * batch is there whole or not at all, and the next synced batch makes it durable.
     */
    void commitUnsynced() {
        try (WriteOptions wo = new WriteOptions().setSync(false)) {
            commit(wo);
        }
    }

    private void commit(WriteOptions options) {
        try {
            db.db.write(options, wb);
        } catch (RocksDBException e) {
            throw new StorageException("write to " + db.dir + " failed: " + e.getMessage(), e);
        }
        chains.added(recordsAdded);
    }

    @Override
    public void close() {
        if (!released) {
            released = true;
            wb.close();
            release.run();
        }
    }
}
