package org.pageserver.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;

/**
 * One tenant's open RocksDB and every native object it was opened with: the options, the
 * column family handles ({@link TenantStore} lists the families), the event listener. Opening
 * applies the options and checks the storage format; {@link #close} releases them all, in
 * order. It knows nothing of locking: {@link TenantStore} keeps it from being used after close.
 */
final class StoreDb {
    static {
        RocksDB.loadLibrary();
    }

    final Path dir;
    final RocksDB db;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions cfOptions;
    private final ColumnFamilyOptions pageOptions;
    private final List<ColumnFamilyHandle> handles;
    final ColumnFamilyHandle meta;
    final ColumnFamilyHandle page;
    final ColumnFamilyHandle relsize;
    final ColumnFamilyHandle wal;
    final ColumnFamilyHandle file;
    /** Reads of the page family that cross blocks (scans): its iterators are in prefix mode otherwise. */
    final ReadOptions totalOrder = new ReadOptions().setTotalOrderSeek(true);
    /** What a write batch commits with: synced or not, as the store was opened. */
    final WriteOptions writeOptions;
    final StoreEvents events;

    private StoreDb(Path dir, RocksDB db, DBOptions dbOptions, ColumnFamilyOptions cfOptions,
                    ColumnFamilyOptions pageOptions, List<ColumnFamilyHandle> handles, boolean sync,
                    StoreEvents events) {
        this.dir = dir;
        this.db = db;
        this.dbOptions = dbOptions;
        this.cfOptions = cfOptions;
        this.pageOptions = pageOptions;
        this.handles = handles;
        this.meta = handles.get(0);
        this.page = handles.get(1);
        this.relsize = handles.get(2);
        this.wal = handles.get(3);
        this.file = handles.get(4);
        this.writeOptions = new WriteOptions().setSync(sync);
        this.events = events;
    }

    /**
     * Opens (creating if needed) the RocksDB in {@code dir} with the store's options: every
     * option of every family is set here.
     *
     * @param sync fsync every write batch before it returns; false only for throwaway data
     * @param memory RocksDB's memory and threads, shared with every other store of the process
     */
    static StoreDb open(Path dir, boolean sync, StorageMemory memory) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StorageException("cannot create tenant directory " + dir, e);
        }
        StoreEvents events = new StoreEvents();
        // After a crash the open replays RocksDB's own WAL into memtables, which the tenant waits
        // for before it streams again; the memtables are flushed later, as usual, not during the
        // open (RocksDB's default, which wrote tens of MB of SST files before the open returned)
        DBOptions dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
            .setKeepLogFileNum(3).setAvoidFlushDuringRecovery(true).setListeners(List.of(events));
        ColumnFamilyOptions cfOptions = new ColumnFamilyOptions().setCompressionType(CompressionType.LZ4_COMPRESSION)
            .setWriteBufferSize(32L << 20);
        memory.apply(dbOptions, cfOptions, new org.rocksdb.BlockBasedTableConfig());
        // Every page read seeks within one block's versions: a bloom filter on the 17-byte block
        // prefix lets a seek skip the sorted runs (SST files, memtables) that hold no version
        // of the block, instead of loading a data block in each
        ColumnFamilyOptions pageOptions = new ColumnFamilyOptions().setCompressionType(CompressionType.LZ4_COMPRESSION)
            .setWriteBufferSize(32L << 20)
            .useFixedLengthPrefixExtractor(Keys.BLOCK_PREFIX_LEN)
            .setMemtablePrefixBloomSizeRatio(0.02);
        memory.apply(dbOptions, pageOptions, new org.rocksdb.BlockBasedTableConfig()
            .setFilterPolicy(new org.rocksdb.BloomFilter(10, false)).setWholeKeyFiltering(false));
        List<ColumnFamilyDescriptor> descriptors = List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions),
            new ColumnFamilyDescriptor(bytes("page"), pageOptions),
            new ColumnFamilyDescriptor(bytes("relsize"), cfOptions),
            new ColumnFamilyDescriptor(bytes("wal"), cfOptions),
            new ColumnFamilyDescriptor(bytes("file"), cfOptions));
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try {
            RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            try {
                checkFormat(dir, db, handles);
            } catch (StorageException e) {
                handles.forEach(ColumnFamilyHandle::close);
                db.close();
                dbOptions.close();
                cfOptions.close();
                pageOptions.close();
                events.close();
                throw e;
            }
            return new StoreDb(dir, db, dbOptions, cfOptions, pageOptions, handles, sync, events);
        } catch (RocksDBException e) {
            dbOptions.close();
            cfOptions.close();
            pageOptions.close();
            events.close();
            throw new StorageException("cannot open tenant store " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * A new store gets the current key layout's version; an existing one must have it. A store
     * of another version is refused rather than read: its page keys sort versions the other way
     * round, and a read would silently return another version of the page.
     */
    private static void checkFormat(Path dir, RocksDB db, List<ColumnFamilyHandle> handles) throws RocksDBException {
        ColumnFamilyHandle metaCf = handles.get(0);
        byte[] v = db.get(metaCf, StoreMeta.FORMAT_VERSION);
        if (v != null) {
            long version = ByteBuffer.wrap(v).getLong();
            if (version != Keys.FORMAT_VERSION) {
                throw new StorageException("tenant store " + dir + " has storage format " + version + ", this pageserver"
                    + " reads format " + Keys.FORMAT_VERSION + " only: import the tenant again into an empty data directory");
            }
            return;
        }
        boolean empty = true;
        for (ColumnFamilyHandle h : handles) {
            try (RocksIterator it = db.newIterator(h)) {
                it.seekToFirst();
                empty &= !it.isValid();
            }
        }
        if (!empty) {
            throw new StorageException("tenant store " + dir + " has storage format 1 (page versions by ascending LSN),"
                + " this pageserver reads format " + Keys.FORMAT_VERSION + " only: import the tenant again into an empty"
                + " data directory");
        }
        try (WriteOptions wo = new WriteOptions().setSync(true)) {
            db.put(metaCf, wo, StoreMeta.FORMAT_VERSION, StoreMeta.longBytes(Keys.FORMAT_VERSION));
        }
    }

    /** Writes every memtable to disk and waits for it. */
    void flush() throws RocksDBException {
        try (org.rocksdb.FlushOptions o = new org.rocksdb.FlushOptions().setWaitForFlush(true)) {
            db.flush(o, handles);
        }
    }

    byte[] get(ColumnFamilyHandle cf, byte[] key) {
        try {
            return db.get(cf, key);
        } catch (RocksDBException e) {
            throw new StorageException("read from " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /** Throws what the iterator met, if it met an error (RocksDB's iterators end on one silently). */
    void checkIterator(RocksIterator it) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new StorageException("read from " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /** Releases every native object. Nothing may use the store during or after it. */
    void close() {
        for (ColumnFamilyHandle h : handles) {
            h.close();
        }
        db.close();
        writeOptions.close();
        dbOptions.close();
        cfOptions.close();
        pageOptions.close();
        totalOrder.close();
        events.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
