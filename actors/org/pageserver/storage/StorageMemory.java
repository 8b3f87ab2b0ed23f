package org.pageserver.storage;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Env;
import org.rocksdb.LRUCache;
import org.rocksdb.Priority;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

/**
 * RocksDB's memory and threads, shared by every tenant's store in the process, as RocksDB's
 * authors recommend for many databases in one process: one block cache, one write buffer
 * manager that caps the memtables of all of them and charges them to that same cache (so
 * {@code block-cache} is the whole RocksDB budget), and the default Env's fixed thread pools
 * for flushes and compactions. Without it every tenant would bring its own memtables (up to two
 * of 32 MB per column family) and memory would grow with the number of tenants.
 *
 * <p>One instance per distinct configuration, for the life of the process (stores come and go,
 * the budget stays).
 */
public final class StorageMemory {
    static {
        RocksDB.loadLibrary();
    }

    private static final Map<List<Long>, StorageMemory> SHARED = new ConcurrentHashMap<>();

    /** What tools and tests get when nothing is configured. */
    public static final StorageMemory DEFAULT = of(64L << 20, 16L << 20, 2);

    private final Cache blockCache;
    private final WriteBufferManager writeBuffers;
    private final int backgroundJobs;
    private final long writeBufferBytes;

    private StorageMemory(long blockCacheBytes, long writeBufferBytes, int backgroundJobs) {
        this.blockCache = new LRUCache(blockCacheBytes);
        this.writeBuffers = new WriteBufferManager(writeBufferBytes, blockCache);
        this.backgroundJobs = backgroundJobs;
        this.writeBufferBytes = writeBufferBytes;
        // RocksDB runs flushes on the HIGH pool and compactions on the LOW pool of the default
        // Env, one pair of pools per process whatever the number of databases; a database
        // only ever grows them to its max_background_jobs, which every store sets to the same
        int flushes = Math.max(1, backgroundJobs / 4);
        Env.getDefault().setBackgroundThreads(flushes, Priority.HIGH);
        Env.getDefault().setBackgroundThreads(Math.max(1, backgroundJobs - flushes), Priority.LOW);
    }

    /**
     * @param blockCacheBytes  the whole RocksDB budget: block cache, memtables included
     *                         (pageserver.storage.block-cache)
     * @param writeBufferBytes of which memtables of all stores together may take this much
     *                         before the store being written flushes (pageserver.storage.write-buffers)
     * @param backgroundJobs   flushes and compactions running at once, all stores together
     *                         (pageserver.storage.background-jobs)
     */
    public static StorageMemory of(long blockCacheBytes, long writeBufferBytes, int backgroundJobs) {
        if (writeBufferBytes > blockCacheBytes) {
            throw new IllegalArgumentException("pageserver.storage.write-buffers (" + writeBufferBytes
                + ") must not exceed pageserver.storage.block-cache (" + blockCacheBytes + "), which includes it");
        }
        if (backgroundJobs < 2) {
            throw new IllegalArgumentException("pageserver.storage.background-jobs must be at least 2 (one flush, one"
                + " compaction), got " + backgroundJobs);
        }
        return SHARED.computeIfAbsent(List.of(blockCacheBytes, writeBufferBytes, (long) backgroundJobs),
            k -> new StorageMemory(blockCacheBytes, writeBufferBytes, backgroundJobs));
    }

    /** Points one store's options at the shared budget. */
    void apply(DBOptions db, ColumnFamilyOptions cf, BlockBasedTableConfig table) {
        // A RocksDB log file is deleted once every family written in it is flushed. The default
        // family gets the durable LSN in every batch and never fills a memtable, so it alone
        // keeps every log since its last flush until the logs reach max_total_wal_size, which
        // then flushes it (by default four times all the memtables: hundreds of MB per store).
        // Capped at the memtable budget, the logs hold about what the memtables hold; nothing is
        // lost, as the flush comes before the deletion.
        db.setWriteBufferManager(writeBuffers).setMaxBackgroundJobs(backgroundJobs).setMaxTotalWalSize(writeBufferBytes);
        // index and filter blocks in the cache too, so that they are inside the budget rather than
        // held per open file outside it; level 0's stay pinned, as they are read on every get
        table.setBlockCache(blockCache).setCacheIndexAndFilterBlocks(true)
            .setPinL0FilterAndIndexBlocksInCache(true);
        cf.setTableFormatConfig(table);
    }
}
