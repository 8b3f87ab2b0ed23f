package org.pageserver.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.redo.PageChange;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

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
 *       retention horizon ({@link StoreMeta}).</li>
 * </ul>
 *
 * <p>Versions older than the retention horizon may be gone ({@link Retention}): every read as
 * of an LSN below it throws {@link BelowHorizonException}.
 *
 * <p>This class is the store's entry point and its lifecycle: it keeps the native handles
 * ({@link StoreDb}, which opens them) alive while any read or write uses them, checks the
 * horizon, and hands out write batches ({@link StoreBatch}). The walks over the keys are in
 * {@link RelationReads} and {@link FileReads}.
 *
 * All methods block on disk I/O: callers run them on the blocking dispatcher. The class is
 * thread-safe (RocksDB is); one writer per tenant (the WAL-stream actor) keeps writes ordered.
 */
public final class TenantStore implements AutoCloseable {
    private final StoreDb db;
    private final RelationReads relations;
    private final FileReads files;
    /** Readers and writers share it; close() takes it exclusively, so no native handle is used after close. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    /** Records stored per block since its last image: what the compaction makes images of. */
    private final ChainLengths chains = new ChainLengths();
    /** The retention horizon and the LSNs pinned against it. */
    private final Horizon horizon;

    private TenantStore(StoreDb db) {
        this.db = db;
        this.relations = new RelationReads(db);
        this.files = new FileReads(db);
        this.horizon = new Horizon(StoreMeta.horizon(db));
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
        return new TenantStore(StoreDb.open(dir, sync, memory));
    }

    public Path dir() {
        return db.dir;
    }

    /** Flushes and compactions so far. */
    public StoreEvents events() {
        return db.events;
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
        try (java.util.stream.Stream<Path> list = Files.list(db.dir)) {
            for (Path f : (Iterable<Path>) list::iterator) {
                try {
                    total += Files.size(f);
                } catch (IOException gone) {
                    // deleted since the listing
                }
            }
        } catch (IOException e) {
            throw new StorageException("cannot list " + db.dir, e);
        }
        return total;
    }

    /**
     * Writes every memtable to disk and waits for it: after a bulk load (a base backup import),
     * so that the load's tens of megabytes do not stay in memory for as long as the tenant is
     * idle (the shared write buffer budget flushes only the store being written).
     */
    public void flush() {
        guarded(() -> {
            try {
                db.flush();
            } catch (RocksDBException e) {
                throw new StorageException("flush of " + db.dir + " failed: " + e.getMessage(), e);
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- metadata

    public Optional<TenantMeta> meta() {
        return guarded(() -> StoreMeta.read(db));
    }

    /** Writes the metadata; once written, the tenant exists and re-attaches on restart. */
    public void putMeta(TenantMeta m) {
        try (StoreBatch b = newBatch()) {
            b.putMeta(m);
            b.commit();
        }
    }

    /** Everything up to this LSN is stored durably (the last record boundary written). */
    public Lsn durableLsn() {
        return guarded(() -> StoreMeta.durableLsn(db));
    }

    public Lsn lastRecordLsn() {
        return guarded(() -> StoreMeta.lastRecordLsn(db));
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
        return guarded(() -> StoreMeta.systemId(db)).map(Object::toString)
            .orElseGet(() -> db.dir.getFileName().toString());
    }

    /**
     * Moves the horizon to {@code to} durably, before anything older is removed, so that a
     * crash after it never leaves the store claiming versions it has lost. Never moves back.
     * Returns the horizon now (lower than {@code to} when a pin holds it back).
     */
    Lsn advanceHorizon(Lsn to) {
        return horizon.advance(to, h -> {
            try (StoreBatch b = newBatch()) {
                StoreMeta.putHorizon(b, h);
                b.commit();
            }
        });
    }

    // ---------------------------------------------------------------- the compaction's access

    /** Runs {@code op} with the store held open: the compaction's raw access to the column families. */
    <T> T whileOpen(Supplier<T> op) {
        return guarded(op);
    }

    /** An iterator in total order (a scan across blocks, relations or paths). */
    RocksIterator iterator(Family f) {
        return db.db.newIterator(handle(f), db.totalOrder);
    }

    ColumnFamilyHandle handle(Family f) {
        return switch (f) {
            case PAGE -> db.page;
            case RELSIZE -> db.relsize;
            case WAL -> db.wal;
            case FILE -> db.file;
        };
    }

    /** The column families of versioned data. */
    enum Family { PAGE, RELSIZE, WAL, FILE }

    void checkIteratorStatus(RocksIterator it) {
        db.checkIterator(it);
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
    public StoreBatch newBatch() {
        holdOpen();
        return new StoreBatch(db, chains, lock.readLock()::unlock);
    }

    // ---------------------------------------------------------------- reading

    /**
     * The history needed to rebuild one block as of {@code lsn}: the newest image at or before
     * it, and the records after that image up to it. Stops early at a record that starts a
     * chain (initializes the page or carries an applicable image).
     */
    public PageHistory pageHistory(RelTag rel, int blkno, Lsn lsn) {
        return guarded(lsn, () -> relations.history(rel, blkno, Lsn.INVALID, lsn));
    }

    /**
     * Like {@link #pageHistory(RelTag, int, Lsn)}, but only what came after {@code since}: when
     * the scan reaches {@code since} without meeting an image or a chain start, the history has
     * no base image and {@link PageHistory#baseLsn()} is {@code since}, to be applied on top of
     * the page as of {@code since} (the caller has it cached).
     */
    public PageHistory pageHistorySince(RelTag rel, int blkno, Lsn since, Lsn lsn) {
        return guarded(lsn, () -> relations.history(rel, blkno, since, lsn));
    }

    /**
     * A reader of many blocks as of one LSN, in ascending (relation, block) order, with one
     * iterator moving forward: what a base backup reads. It holds the store open until closed.
     *
     * @throws BelowHorizonException when {@code lsn} is below the retention horizon
     */
    public PageVersions pageVersions(Lsn lsn) {
        holdOpen();
        try {
            checkHorizon(lsn);
            return relations.versions(lsn, lock.readLock()::unlock);
        } catch (RuntimeException e) {
            lock.readLock().unlock();
            throw e;
        }
    }

    /** Number of blocks of the relation as of {@code lsn}; empty when it does not exist then. */
    public OptionalInt relSize(RelTag rel, Lsn lsn) {
        return guarded(lsn, () -> relations.relSize(rel, lsn));
    }

    /** Every relation fork that exists as of {@code lsn}, with its size, in key order. */
    public TreeMap<RelTag, Integer> relations(Lsn lsn) {
        return guarded(lsn, () -> relations.relations(lsn));
    }

    /** Receives one stored WAL record entry. */
    @FunctionalInterface
    public interface RecordEntrySink {
        void accept(RelTag rel, int blkno, Lsn startLsn, Lsn endLsn, PageChange change);
    }

    /** Every WAL record entry of the page store, in key order: for checks and diagnostics. */
    public void forEachRecordEntry(RecordEntrySink sink) {
        guarded(() -> {
            relations.forEachRecordEntry(sink);
            return null;
        });
    }

    /** A non-relation file's content as of {@code lsn}, if it exists then (and is not a symlink). */
    public Optional<byte[]> file(String path, Lsn lsn) {
        return guarded(lsn, () -> files.file(path, lsn));
    }

    /** A symbolic link's target as of {@code lsn}, if the link exists then. */
    public Optional<String> symlink(String path, Lsn lsn) {
        return guarded(lsn, () -> files.symlink(path, lsn));
    }

    /** Paths of every non-relation file (and directory, ending in /) that exists as of {@code lsn}; no symlinks. */
    public List<String> files(Lsn lsn) {
        return guarded(lsn, () -> files.files(lsn));
    }

    /** Every symbolic link that exists as of {@code lsn}: path to target. */
    public TreeMap<String, String> symlinks(Lsn lsn) {
        return guarded(lsn, () -> files.symlinks(lsn));
    }

    /**
     * The tablespaces other than pg_default and pg_global that exist as of {@code lsn}: their
     * OID and location, from the {@code pg_tblspc/<oid>} links.
     */
    public TreeMap<Integer, String> tablespaces(Lsn lsn) {
        return guarded(lsn, () -> files.tablespaces(lsn));
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

    /**
     * Streams the raw WAL in [from, to) to {@code sink} as (start LSN, bytes) pieces, trimmed
     * to the range.
     */
    public void readWal(Lsn from, Lsn to, WalSink sink) {
        guarded(() -> {
            files.readWal(from, to, sink);
            return null;
        });
    }

    /** Receives a piece of raw WAL: {@code len} bytes of {@code buf} from {@code off}, starting at {@code lsn}. */
    @FunctionalInterface
    public interface WalSink {
        void accept(Lsn lsn, byte[] buf, int off, int len);
    }

    /** First LSN of the raw WAL kept, or INVALID when none is. */
    public Lsn walStart() {
        return guarded(files::walStart);
    }

    // ---------------------------------------------------------------- lifecycle

    /** Takes the read lock, and keeps it only if the store is open. */
    private void holdOpen() {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw new StorageException("tenant store " + db.dir + " is closed");
        }
    }

    private <T> T guarded(Supplier<T> op) {
        holdOpen();
        try {
            return op.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** A read as of {@code lsn}: refused below the horizon. */
    private <T> T guarded(Lsn lsn, Supplier<T> read) {
        return guarded(() -> {
            checkHorizon(lsn);
            return read.get();
        });
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
        try {
            db.flush();
        } catch (RocksDBException e) {
            org.slf4j.LoggerFactory.getLogger(TenantStore.class).warn("flush of {} at close failed (its next open"
                + " replays RocksDB's log instead): {}", db.dir, e.getMessage());
        }
        db.close();
    }
}
