package org.pageserver.storage;

import org.pageserver.redo.PageChange;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The durable store of one tenant (one PostgreSQL system_id): a RocksDB under the tenant's
 * directory with one column family per kind of data (see {@link Keys} for the layouts).
 *
 * <ul>
 *   <li>{@code page}: every version of every block: base images and the WAL records that touch
 *       the block, keyed (relation, block, inverted LSN), so that "newest image at or before L
 *       plus the records after it up to L" is one forward range scan ({@link PageVersions}).</li>
 *   <li>{@code relsize}: relation size (nblocks) versions, and drops.</li>
 *   <li>{@code wal}: the raw WAL as received, up to the last record boundary stored: what a
 *       base backup ships, and what a compute needs to start.</li>
 *   <li>{@code file}: versions of non-relation files (SLRU segments, relation maps, the rest of
 *       a base backup).</li>
 *   <li>{@code default}: tenant metadata, the durable LSN, the key layout's version and the
 *       retention horizon.</li>
 * </ul>
 *
 * <p>Versions older than the retention horizon may be gone ({@link Retention}): every read as
 * of an LSN below it throws {@link BelowHorizonException}.
 *
 * All methods block on disk I/O: callers run them on the blocking dispatcher. The class is
 * thread-safe (RocksDB is); one writer per tenant (the WAL-stream actor) keeps writes ordered.
 */
public final class TenantStore implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    private static final byte[] META_SYSTEM_ID = bytes("system_id");
    private static final byte[] META_CONNINFO = bytes("conninfo");
    private static final byte[] META_TIMELINE = bytes("timeline");
    private static final byte[] META_WAL_SEG_SIZE = bytes("wal_seg_size");
    private static final byte[] META_START_LSN = bytes("start_lsn");
    private static final byte[] META_CONSISTENT_LSN = bytes("consistent_lsn");
    private static final byte[] META_SLOT = bytes("slot_name");
    private static final byte[] META_HINTS_LOGGED = bytes("hints_logged");
    private static final byte[] META_DURABLE_LSN = bytes("durable_lsn");
    private static final byte[] META_LAST_RECORD_LSN = bytes("last_record_lsn");
    private static final byte[] META_FORMAT_VERSION = bytes("format_version");
    private static final byte[] META_HORIZON = bytes("horizon_lsn");


    private final Path dir;
    private final RocksDB db;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions cfOptions;
    private final ColumnFamilyOptions pageOptions;
    /** Reads of the page family that cross blocks (scans): its iterators are in prefix mode otherwise. */
    private final ReadOptions totalOrder = new ReadOptions().setTotalOrderSeek(true);
    private final List<ColumnFamilyHandle> handles;
    private final ColumnFamilyHandle meta;
    private final ColumnFamilyHandle page;
    private final ColumnFamilyHandle relsize;
    private final ColumnFamilyHandle wal;
    private final ColumnFamilyHandle file;
    private final WriteOptions writeOptions;
    /** Readers and writers share it; close() takes it exclusively, so no native handle is used after close. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lock = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private boolean closed;

    private final StoreEvents events;
    /** Records stored per block since its last image: what the compaction makes images of. */
    private final ChainLengths chains = new ChainLengths();
    /** The retention horizon and the LSNs pinned against it. */
    private final Horizon horizon;

    private TenantStore(Path dir, RocksDB db, DBOptions dbOptions, ColumnFamilyOptions cfOptions,
                        ColumnFamilyOptions pageOptions,
                        List<ColumnFamilyHandle> handles, boolean sync, StoreEvents events) {
        this.events = events;
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
        this.horizon = new Horizon(new Lsn(longOf(get(meta, META_HORIZON))));
    }

    /**
     * Opens (creating if needed) the store in {@code dir}.
     *
     * @param sync fsync every write batch before it returns; false only for throwaway data
     */
    public static TenantStore open(Path dir, boolean sync) {
        return open(dir, sync, StorageMemory.DEFAULT);
    }

    /** @param memory RocksDB's memory and threads, shared with every other store of the process */
    public static TenantStore open(Path dir, boolean sync, StorageMemory memory) {
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
            return new TenantStore(dir, db, dbOptions, cfOptions, pageOptions, handles, sync, events);
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
        byte[] v = db.get(metaCf, META_FORMAT_VERSION);
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
            db.put(metaCf, wo, META_FORMAT_VERSION, longBytes(Keys.FORMAT_VERSION));
        }
    }

    public Path dir() {
        return dir;
    }

    /** Flushes and compactions so far. */
    public StoreEvents events() {
        return events;
    }

    /** False once {@link #close} has begun. */
    public boolean isOpen() {
        lock.readLock().lock();
        try {
            return !closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Bytes of the store's files on disk. Files that RocksDB deletes meanwhile (compaction
     * outputs replace inputs) are skipped: the sum is a snapshot within one directory listing.
     */
    public long diskBytes() {
        long total = 0;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                try {
                    total += Files.size(f);
                } catch (IOException gone) {
                    // deleted since the listing
                }
            }
        } catch (IOException e) {
            throw new StorageException("cannot list " + dir, e);
        }
        return total;
    }

    // ---------------------------------------------------------------- metadata

    public Optional<TenantMeta> meta() {
        return guarded(this::metaUnlocked);
    }

    private Optional<TenantMeta> metaUnlocked() {
        byte[] sys = get(meta, META_SYSTEM_ID);
        if (sys == null) {
            return Optional.empty();
        }
        return Optional.of(new TenantMeta(
            new SystemId(ByteBuffer.wrap(sys).getLong()),
            string(get(meta, META_CONNINFO)),
            (int) longOf(get(meta, META_TIMELINE)),
            (int) longOf(get(meta, META_WAL_SEG_SIZE)),
            new Lsn(longOf(get(meta, META_START_LSN))),
            new Lsn(longOf(get(meta, META_CONSISTENT_LSN))),
            string(get(meta, META_SLOT)),
            longOf(get(meta, META_HINTS_LOGGED)) != 0));
    }

    /**
     * Writes every memtable to disk and waits for it: after a bulk load (a base backup import),
     * so that the load's tens of megabytes do not stay in memory for as long as the tenant is
     * idle (the shared write buffer budget flushes only the store being written).
     */
    public void flush() {
        guarded(() -> {
            try (org.rocksdb.FlushOptions o = new org.rocksdb.FlushOptions().setWaitForFlush(true)) {
                db.flush(o, handles);
            } catch (RocksDBException e) {
                throw new StorageException("flush of " + dir + " failed: " + e.getMessage(), e);
            }
            return null;
        });
    }

    /** Writes the metadata; once written, the tenant exists and re-attaches on restart. */
    public void putMeta(TenantMeta m) {
        try (Batch b = newBatch()) {
            b.putMeta(m);
            b.commit();
        }
    }

    /** Everything up to this LSN is stored durably (the last record boundary written). */
    public Lsn durableLsn() {
        return guarded(() -> new Lsn(longOf(get(meta, META_DURABLE_LSN))));
    }

    public Lsn lastRecordLsn() {
        return guarded(() -> new Lsn(longOf(get(meta, META_LAST_RECORD_LSN))));
    }

    // ---------------------------------------------------------------- retention horizon

    /** Versions older than this LSN may be gone: reads below it are refused. INVALID: none yet. */
    public Lsn horizon() {
        return horizon.lsn();
    }

    /**
     * Keeps the horizon at or below {@code lsn} until the pin is closed: what a base backup or a
     * mounted compute reading as of {@code lsn} holds while it reads.
     *
     * @throws BelowHorizonException when the horizon has already passed {@code lsn}
     */
    public Horizon.Pin pin(Lsn lsn) {
        return horizon.pin(lsn, this::systemIdText);
    }

    /** @throws BelowHorizonException when {@code lsn} is below the retention horizon */
    public void checkHorizon(Lsn lsn) {
        horizon.check(lsn, this::systemIdText);
    }

    private String systemIdText() {
        byte[] sys = guarded(() -> get(meta, META_SYSTEM_ID));
        return sys == null ? dir.getFileName().toString() : new SystemId(ByteBuffer.wrap(sys).getLong()).toString();
    }

    /**
     * Moves the horizon to {@code to} durably, before anything older is removed, so that a
     * crash after it never leaves the store claiming versions it has lost. Never moves back.
     * Returns the horizon now (lower than {@code to} when a pin holds it back).
     */
    Lsn advanceHorizon(Lsn to) {
        return horizon.advance(to, h -> {
            try (Batch b = newBatch()) {
                b.put(meta, META_HORIZON, longBytes(h.value()));
                b.commit();
            }
        });
    }

    /** Runs {@code op} with the store held open: the compaction's raw access to the column families. */
    <T> T whileOpen(java.util.function.Supplier<T> op) {
        return guarded(op);
    }

    /** An iterator in total order (a scan across blocks, relations or paths). */
    RocksIterator iterator(Family f) {
        return db.newIterator(handle(f), totalOrder);
    }

    ColumnFamilyHandle handle(Family f) {
        return switch (f) {
            case PAGE -> page;
            case RELSIZE -> relsize;
            case WAL -> wal;
            case FILE -> file;
        };
    }

    /** The column families of versioned data. */
    enum Family { PAGE, RELSIZE, WAL, FILE }

    void checkIteratorStatus(RocksIterator it) {
        checkIterator(it);
    }

    /** Blocks with records since their last image (for the compaction). */
    ChainLengths chains() {
        return chains;
    }

    // ---------------------------------------------------------------- writing

    /**
     * A new write batch. It holds the store open until it is closed: a batch being filled on
     * one thread never meets native handles released by {@link #close} on another.
     *
     * @throws StorageException when the store is closed
     */
    public Batch newBatch() {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw new StorageException("tenant store " + dir + " is closed");
        }
        return new Batch();
    }

    /** One atomic write: everything in it becomes visible and durable together. Close it. */
    public final class Batch implements AutoCloseable {
        private final WriteBatch wb = new WriteBatch();
        private int count;
        private boolean released;
        /** Blocks given a record or an image in this batch. */
        private final java.util.Set<BufferTag> pagesChanged = new java.util.HashSet<>();
        /** The last size given to each relation in this batch; -1: dropped. */
        private final java.util.Map<RelTag, Integer> sizesChanged = new java.util.HashMap<>();
        /** Records given to each block in this batch (for the chain lengths, once committed). */
        private final java.util.Map<BufferTag, Integer> recordsAdded = new java.util.HashMap<>();

        public Batch putMeta(TenantMeta m) {
            put(meta, META_SYSTEM_ID, ByteBuffer.allocate(8).putLong(m.systemId().value()).array());
            put(meta, META_CONNINFO, bytes(m.conninfo()));
            put(meta, META_TIMELINE, longBytes(m.timeline()));
            put(meta, META_WAL_SEG_SIZE, longBytes(m.walSegSize()));
            put(meta, META_START_LSN, longBytes(m.startLsn().value()));
            put(meta, META_CONSISTENT_LSN, longBytes(m.consistentLsn().value()));
            put(meta, META_SLOT, bytes(m.slotName()));
            put(meta, META_HINTS_LOGGED, longBytes(m.hintsLogged() ? 1 : 0));
            return this;
        }

        /** A page image: a base backup's page, or one materialized from a long record chain. */
        public Batch putImage(RelTag rel, int blkno, Lsn lsn, byte[] image) {
            put(page, Keys.page(rel, blkno, lsn.value(), Keys.KIND_IMAGE), image);
            pagesChanged.add(new BufferTag(rel, blkno));
            return this;
        }

        /**
         * A WAL record, stored under one page it changes, keyed by its end LSN. The value: a flags
         * byte (FLAG_STARTS_CHAIN), the {@link PageChange} byte, the start LSN (u64), the raw record.
         */
        public Batch putRecord(RelTag rel, int blkno, Lsn start, Lsn end, PageChange change, boolean startsChain,
                               byte[] raw) {
            byte[] v = new byte[10 + raw.length];
            v[0] = startsChain ? PageVersions.FLAG_STARTS_CHAIN : 0;
            v[1] = change.toByte();
            ByteBuffer.wrap(v, 2, 8).order(ByteOrder.BIG_ENDIAN).putLong(start.value());
            System.arraycopy(raw, 0, v, 10, raw.length);
            put(page, Keys.page(rel, blkno, end.value(), Keys.KIND_RECORD), v);
            BufferTag tag = new BufferTag(rel, blkno);
            pagesChanged.add(tag);
            recordsAdded.merge(tag, 1, Integer::sum);
            return this;
        }

        /** The relation has {@code nblocks} blocks from {@code lsn} on. */
        public Batch putRelSize(RelTag rel, Lsn lsn, int nblocks) {
            put(relsize, Keys.relsize(rel, lsn.value()), ByteBuffer.allocate(4).putInt(nblocks).array());
            sizesChanged.put(rel, nblocks);
            return this;
        }

        /** The relation does not exist from {@code lsn} on. */
        public Batch dropRel(RelTag rel, Lsn lsn) {
            put(relsize, Keys.relsize(rel, lsn.value()), new byte[0]);
            sizesChanged.put(rel, -1);
            return this;
        }

        public Batch putWal(Lsn start, byte[] bytes) {
            put(wal, Keys.wal(start.value()), bytes);
            return this;
        }

        /** A version of a non-relation file; null content records its removal. */
        public Batch putFile(String path, Lsn lsn, byte[] content) {
            put(file, Keys.file(path, lsn.value()), content == null ? new byte[0] : tagged(FILE_REGULAR, content));
            return this;
        }

        /**
         * A symbolic link from {@code lsn} on, as a data directory has them: {@code pg_tblspc/<oid>}
         * pointing at a tablespace's location. Removed with {@code putFile(path, lsn, null)}.
         */
        public Batch putSymlink(String path, Lsn lsn, String target) {
            put(file, Keys.file(path, lsn.value()), tagged(FILE_SYMLINK, target.getBytes(StandardCharsets.UTF_8)));
            return this;
        }

        public Batch setDurableLsn(Lsn durable, Lsn lastRecord) {
            put(meta, META_DURABLE_LSN, longBytes(durable.value()));
            put(meta, META_LAST_RECORD_LSN, longBytes(lastRecord.value()));
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
            return new StoreChanges(java.util.Set.copyOf(pagesChanged), java.util.Map.copyOf(sizesChanged));
        }

        public long sizeBytes() {
            return wb.getDataSize();
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

        void put(ColumnFamilyHandle cf, byte[] k, byte[] v) {
            try {
                wb.put(cf, k, v);
                count++;
            } catch (RocksDBException e) {
                throw new StorageException("write batch failed: " + e.getMessage(), e);
            }
        }

        public void commit() {
            commit(writeOptions);
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
                db.write(options, wb);
            } catch (RocksDBException e) {
                throw new StorageException("write to " + dir + " failed: " + e.getMessage(), e);
            }
            chains.added(recordsAdded);
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                wb.close();
                lock.readLock().unlock();
            }
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * The history needed to rebuild one block as of {@code lsn}: the newest image at or before
     * it, and the records after that image up to it. Stops early at a record that starts a
     * chain (initializes the page or carries an applicable image).
     */
    public PageHistory pageHistory(RelTag rel, int blkno, Lsn lsn) {
        return guarded(() -> {
            checkHorizon(lsn);
            try (ReadOptions ro = new ReadOptions(); RocksIterator it = db.newIterator(page, ro)) {
                PageHistory h = PageVersions.history(it, rel, blkno, lsn, Lsn.INVALID);
                checkIterator(it);
                return h;
            }
        });
    }

    /**
     * Like {@link #pageHistory(RelTag, int, Lsn)}, but only what came after {@code since}: when
     * the scan reaches {@code since} without meeting an image or a chain start, the history has
     * no base image and {@link PageHistory#baseLsn()} is {@code since}, to be applied on top of
     * the page as of {@code since} (the caller has it cached).
     */
    public PageHistory pageHistorySince(RelTag rel, int blkno, Lsn since, Lsn lsn) {
        return guarded(() -> {
            checkHorizon(lsn);
            try (ReadOptions ro = new ReadOptions(); RocksIterator it = db.newIterator(page, ro)) {
                PageHistory h = PageVersions.history(it, rel, blkno, lsn, since);
                checkIterator(it);
                return h;
            }
        });
    }

    /**
     * A reader of many blocks as of one LSN, in ascending (relation, block) order, with one
     * iterator moving forward: what a base backup reads. It holds the store open until closed.
     *
     * @throws BelowHorizonException when {@code lsn} is below the retention horizon
     */
    public PageVersions pageVersions(Lsn lsn) {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw new StorageException("tenant store " + dir + " is closed");
        }
        try {
            checkHorizon(lsn);
            // a bulk read: it would evict what GetPage keeps in the block cache
            ReadOptions ro = new ReadOptions().setFillCache(false);
            return new PageVersions(db.newIterator(page, ro), lsn, () -> {
                ro.close();
                lock.readLock().unlock();
            }, this::checkIterator);
        } catch (RuntimeException e) {
            lock.readLock().unlock();
            throw e;
        }
    }

    /** Number of blocks of the relation as of {@code lsn}; empty when it does not exist then. */
    public OptionalInt relSize(RelTag rel, Lsn lsn) {
        return guarded(() -> {
            checkHorizon(lsn);
            return relSizeUnlocked(rel, lsn);
        });
    }

    private OptionalInt relSizeUnlocked(RelTag rel, Lsn lsn) {
        byte[] prefix = Keys.relPrefix(rel);
        try (RocksIterator it = db.newIterator(relsize)) {
            it.seekForPrev(Keys.relsize(rel, lsn.value()));
            if (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
                byte[] v = it.value();
                return v.length == 0 ? OptionalInt.empty() : OptionalInt.of(ByteBuffer.wrap(v).getInt());
            }
            checkIterator(it);
        }
        return OptionalInt.empty();
    }

    /** Every relation fork that exists as of {@code lsn}, with its size, in key order. */
    public TreeMap<RelTag, Integer> relations(Lsn lsn) {
        return guarded(() -> {
            checkHorizon(lsn);
            return relationsUnlocked(lsn);
        });
    }

    /**
     * One seek per relation, not a walk over every size version (a relation gets one at each
     * extension): the newest version at or before {@code lsn}, then past the relation's last key.
     */
    private TreeMap<RelTag, Integer> relationsUnlocked(Lsn lsn) {
        TreeMap<RelTag, Integer> out = new TreeMap<>();
        try (RocksIterator it = db.newIterator(relsize)) {
            it.seekToFirst();
            while (it.isValid()) {
                RelTag rel = Keys.relOf(it.key());
                it.seekForPrev(Keys.relsize(rel, lsn.value()));
                if (it.isValid() && Keys.relOf(it.key()).equals(rel)) {
                    addIfExists(out, rel, it.value());
                }
                // every version of rel sorts at or before the largest LSN (all ones)
                it.seek(Keys.relsize(rel, -1L));
                if (it.isValid() && Keys.relOf(it.key()).equals(rel)) {
                    it.next(); // a version at exactly that LSN
                }
            }
            checkIterator(it);
        }
        return out;
    }

    private static void addIfExists(TreeMap<RelTag, Integer> out, RelTag rel, byte[] v) {
        if (rel != null && v != null && v.length == 4) {
            out.put(rel, ByteBuffer.wrap(v).getInt());
        }
    }

    /** A non-relation file's content as of {@code lsn}, if it exists then (and is not a symlink). */
    public Optional<byte[]> file(String path, Lsn lsn) {
        return guarded(() -> fileVersion(path, lsn, FILE_REGULAR));
    }

    /** A symbolic link's target as of {@code lsn}, if the link exists then. */
    public Optional<String> symlink(String path, Lsn lsn) {
        return guarded(() -> fileVersion(path, lsn, FILE_SYMLINK).map(t -> new String(t, StandardCharsets.UTF_8)));
    }

    private Optional<byte[]> fileVersion(String path, Lsn lsn, byte kind) {
        checkHorizon(lsn);
        byte[] prefix = Keys.filePrefix(path);
        try (RocksIterator it = db.newIterator(file)) {
            it.seekForPrev(Keys.file(path, lsn.value()));
            if (it.isValid() && Keys.hasPrefix(it.key(), prefix) && it.key().length == prefix.length + 8) {
                byte[] v = it.value();
                if (v.length == 0 || v[0] != kind) {
                    return Optional.empty();
                }
                byte[] content = new byte[v.length - 1];
                System.arraycopy(v, 1, content, 0, content.length);
                return Optional.of(content);
            }
            checkIterator(it);
        }
        return Optional.empty();
    }

    /** Paths of every non-relation file (and directory, ending in /) that exists as of {@code lsn}; no symlinks. */
    public List<String> files(Lsn lsn) {
        return guarded(() -> new ArrayList<>(filesUnlocked(lsn, FILE_REGULAR).keySet()));
    }

    /** Every symbolic link that exists as of {@code lsn}: path to target. */
    public TreeMap<String, String> symlinks(Lsn lsn) {
        return guarded(() -> {
            TreeMap<String, String> out = new TreeMap<>();
            filesUnlocked(lsn, FILE_SYMLINK).forEach((path, v) ->
                out.put(path, new String(v, 1, v.length - 1, StandardCharsets.UTF_8)));
            return out;
        });
    }

    /**
     * The tablespaces other than pg_default and pg_global that exist as of {@code lsn}: their
     * OID and location, from the {@code pg_tblspc/<oid>} links.
     */
    public TreeMap<Integer, String> tablespaces(Lsn lsn) {
        TreeMap<Integer, String> out = new TreeMap<>(Integer::compareUnsigned);
        symlinks(lsn).forEach((path, target) -> {
            Integer oid = tablespaceOid(path);
            if (oid != null) {
                out.put(oid, target);
            }
        });
        return out;
    }

    /** The OID of a {@code pg_tblspc/<oid>} path, or null for any other path. */
    public static Integer tablespaceOid(String path) {
        if (!path.startsWith(TABLESPACE_LINK_DIR) || path.length() == TABLESPACE_LINK_DIR.length()
            || path.length() > TABLESPACE_LINK_DIR.length() + 10) {
            return null;
        }
        String oid = path.substring(TABLESPACE_LINK_DIR.length());
        if (!oid.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return null;
        }
        long v = Long.parseLong(oid);
        return v == 0 || v > 0xFFFFFFFFL ? null : (int) v;
    }

    /** Where PostgreSQL keeps a link per tablespace. */
    public static final String TABLESPACE_LINK_DIR = "pg_tblspc/";

    /** The newest version at or before {@code lsn} of every path whose newest version is of {@code kind}. */
    private TreeMap<String, byte[]> filesUnlocked(Lsn lsn, byte kind) {
        checkHorizon(lsn);
        TreeMap<String, byte[]> out = new TreeMap<>();
        try (RocksIterator it = db.newIterator(file)) {
            it.seekToFirst();
            String current = null;
            byte[] version = null;
            while (it.isValid()) {
                byte[] k = it.key();
                String path = Keys.filePathOf(k);
                if (!path.equals(current)) {
                    if (current != null && version != null && version.length > 0 && version[0] == kind) {
                        out.put(current, version);
                    }
                    current = path;
                    version = null;
                }
                if (Long.compareUnsigned(Keys.fileLsnOf(k), lsn.value()) <= 0) {
                    version = it.value();
                }
                it.next();
            }
            if (current != null && version != null && version.length > 0 && version[0] == kind) {
                out.put(current, version);
            }
            checkIterator(it);
        }
        return out;
    }

    /**
     * Streams the raw WAL in [from, to) to {@code sink} as (start LSN, bytes) pieces, trimmed
     * to the range.
     */
    public void readWal(Lsn from, Lsn to, WalSink sink) {
        guarded(() -> {
            readWalUnlocked(from, to, sink);
            return null;
        });
    }

    private void readWalUnlocked(Lsn from, Lsn to, WalSink sink) {
        try (RocksIterator it = db.newIterator(wal)) {
            it.seekForPrev(Keys.wal(from.value()));
            if (!it.isValid()) {
                it.seekToFirst();
                if (it.isValid() && Long.compareUnsigned(Keys.walLsnOf(it.key()), from.value()) > 0
                    && Long.compareUnsigned(from.value(), to.value()) < 0) {
                    // the retention removed it meanwhile (callers check walStart first): never a gap
                    throw new StorageException("the raw WAL from " + from + " is no longer kept (it starts at "
                        + new Lsn(Keys.walLsnOf(it.key())) + ")");
                }
            }
            while (it.isValid()) {
                long start = Keys.walLsnOf(it.key());
                if (Long.compareUnsigned(start, to.value()) >= 0) {
                    break;
                }
                byte[] v = it.value();
                long end = start + v.length;
                if (Long.compareUnsigned(end, from.value()) > 0) {
                    long s = Math.max(start, from.value());
                    long e = Math.min(end, to.value());
                    sink.accept(new Lsn(s), v, (int) (s - start), (int) (e - s));
                }
                it.next();
            }
            checkIterator(it);
        }
    }

    /** Receives a piece of raw WAL: {@code len} bytes of {@code buf} from {@code off}, starting at {@code lsn}. */
    @FunctionalInterface
    public interface WalSink {
        void accept(Lsn lsn, byte[] buf, int off, int len);
    }

    /** First LSN of the raw WAL kept, or INVALID when none is. */
    public Lsn walStart() {
        return guarded(() -> walStartUnlocked());
    }

    private Lsn walStartUnlocked() {
        try (RocksIterator it = db.newIterator(wal)) {
            it.seekToFirst();
            return it.isValid() ? new Lsn(Keys.walLsnOf(it.key())) : Lsn.INVALID;
        }
    }

    /** Receives one stored WAL record entry. */
    @FunctionalInterface
    public interface RecordEntrySink {
        void accept(RelTag rel, int blkno, Lsn startLsn, Lsn endLsn, PageChange change);
    }

    /** Every WAL record entry of the page store, in key order: for checks and diagnostics. */
    public void forEachRecordEntry(RecordEntrySink sink) {
        guarded(() -> {
            try (RocksIterator it = db.newIterator(page, totalOrder)) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    byte[] k = it.key();
                    if (Keys.pageKindOf(k) == Keys.KIND_RECORD) {
                        long start = ByteBuffer.wrap(it.value(), 2, 8).order(ByteOrder.BIG_ENDIAN).getLong();
                        sink.accept(Keys.relOf(k), Keys.blknoOf(k), new Lsn(start), new Lsn(Keys.pageLsnOf(k)),
                            PageChange.fromByte(it.value()[1]));
                    }
                }
                checkIterator(it);
            }
            return null;
        });
    }

    private <T> T guarded(java.util.function.Supplier<T> op) {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new StorageException("tenant store " + dir + " is closed");
            }
            return op.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Waits for running reads and writes, writes the memtables to disk, then releases the native
     * handles. Idempotent.
     */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            lock.writeLock().unlock();
        }
        // Everything is already durable in RocksDB's log, but an open replays that log into
        // memtables (up to max_total_wal_size, tens of MB: a second or more of CPU) before the
        // tenant streams again; after a clean stop the next start has nothing to replay. After a
        // crash it still replays, as before.
        try (org.rocksdb.FlushOptions o = new org.rocksdb.FlushOptions().setWaitForFlush(true)) {
            db.flush(o, handles);
        } catch (RocksDBException e) {
            org.slf4j.LoggerFactory.getLogger(TenantStore.class).warn("flush of {} at close failed (its next open"
                + " replays RocksDB's log instead): {}", dir, e.getMessage());
        }
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

    // ---------------------------------------------------------------- helpers

    private byte[] get(ColumnFamilyHandle cf, byte[] key) {
        try {
            return db.get(cf, key);
        } catch (RocksDBException e) {
            throw new StorageException("read from " + dir + " failed: " + e.getMessage(), e);
        }
    }

    private void checkIterator(RocksIterator it) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new StorageException("read from " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * A file version's value is its kind, then its content: FILE_REGULAR (so that an empty file
     * differs from a removed one, whose value is empty) or FILE_SYMLINK (the content is the
     * link's target). Stores written before symlinks existed hold only FILE_REGULAR.
     */
    private static final byte FILE_REGULAR = 1;
    private static final byte FILE_SYMLINK = 2;

    private static byte[] tagged(byte kind, byte[] content) {
        byte[] v = new byte[content.length + 1];
        v[0] = kind;
        System.arraycopy(content, 0, v, 1, content.length);
        return v;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }

    private static byte[] longBytes(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    private static long longOf(byte[] b) {
        return b == null ? 0 : ByteBuffer.wrap(b).getLong();
    }
}
