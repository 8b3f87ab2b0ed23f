package org.pageserver.storage;

import java.util.concurrent.atomic.LongAdder;
import org.rocksdb.AbstractEventListener;
import org.rocksdb.CompactionJobInfo;
import org.rocksdb.FlushJobInfo;
import org.rocksdb.RocksDB;
import org.rocksdb.TableFileCreationInfo;
import org.rocksdb.TableFileCreationReason;

/**
 * Counts a store's memtable flushes and compactions, and their bytes, as RocksDB reports them
 * to its event listeners (on its background threads, once per flush or compaction: nothing on
 * the read or write path). Read by the metrics.
 */
public final class StoreEvents extends AbstractEventListener {
    private final LongAdder flushes = new LongAdder();
    private final LongAdder flushBytes = new LongAdder();
    private final LongAdder compactions = new LongAdder();
    private final LongAdder compactionReadBytes = new LongAdder();
    private final LongAdder compactionWrittenBytes = new LongAdder();

    StoreEvents() {
        super(EnabledEventCallback.ON_FLUSH_COMPLETED, EnabledEventCallback.ON_COMPACTION_COMPLETED,
            EnabledEventCallback.ON_TABLE_FILE_CREATED);
    }

    @Override
    public void onFlushCompleted(RocksDB db, FlushJobInfo info) {
        flushes.increment();
    }

    @Override
    public void onCompactionCompleted(RocksDB db, CompactionJobInfo info) {
        compactions.increment();
        compactionReadBytes.add(info.stats().totalInputBytes());
        compactionWrittenBytes.add(info.stats().totalOutputBytes());
    }

    @Override
    public void onTableFileCreated(TableFileCreationInfo info) {
        if (info.getReason() == TableFileCreationReason.FLUSH) {
            flushBytes.add(info.getFileSize());
        }
    }

    public long flushes() {
        return flushes.sum();
    }

    public long flushBytes() {
        return flushBytes.sum();
    }

    public long compactions() {
        return compactions.sum();
    }

    public long compactionReadBytes() {
        return compactionReadBytes.sum();
    }

    public long compactionWrittenBytes() {
        return compactionWrittenBytes.sum();
    }
}
