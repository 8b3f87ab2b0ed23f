package org.pageserver.engine;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.DatabaseRecord;
import org.pageserver.redo.PageChange;
import org.pageserver.redo.RedoException;
import org.pageserver.redo.SlruRedo;
import org.pageserver.redo.StorageEffects;
import org.pageserver.redo.TablespaceRecord;
import org.pageserver.redo.WalRedo;
import org.pageserver.redo.XlXactPrepare;
import org.pageserver.storage.Faults;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.StoreChanges;
import org.pageserver.storage.TenantStore;
import org.pageserver.storage.WalStateFiles;

/**
 * The storing half of one tenant's WAL-to-store path ({@link WalIngest} is the decoding half):
 * indexes the records of each {@link WalBatch} under the blocks they touch, applies their
 * storage effects, and stores them with the raw WAL, atomically.
 *
 * <p>Not thread-safe, and it need not be: its state (the relation sizes as last written, the
 * last checkpoint's next xid) belongs to the one batch being written. The WAL-stream actor
 * keeps at most one write in flight and starts the next only after the previous one's
 * completion reached its mailbox, so each write sees everything the previous one did, whichever
 * blocking thread runs it. (One write at a time also makes consecutive chunks share one fsync.)
 */
public final class BatchWriter {
    private final TenantStore store;
    private final boolean hintsLogged;
    private final Lsn indexFrom;
    /** Relation sizes as last written (-1: dropped). */
    private final Map<RelTag, Integer> relSizes = new HashMap<>();
    /**
     * The next xid of the last checkpoint record indexed (where ActivateCommitTs starts), also
     * kept as versions of {@link #CHECKPOINT_NEXT_XID_FILE} for after a reconnect; null: unknown yet.
     */
    private Integer checkpointNextXid;
    static final String CHECKPOINT_NEXT_XID_FILE = WalStateFiles.CHECKPOINT_NEXT_XID;
    /** Changes of the parts of a database copy already written by the current batch. */
    private StoreChanges copied = StoreChanges.NONE;

    /**
     * @param indexFrom   records ending at or before this LSN are already in the base images
     *                    and are not indexed (their raw WAL is still kept)
     * @param hintsLogged the primary WAL-logs hint bits (TenantMeta): pages copied for a new
     *                    database are rebuilt with it
     */
    public BatchWriter(TenantStore store, Lsn indexFrom, boolean hintsLogged) {
        this.store = store;
        this.indexFrom = indexFrom;
        this.hintsLogged = hintsLogged;
    }

    /** The PG_VERSION file of a PostgreSQL 15 database directory. */
    private static final byte[] PG_VERSION = "15\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** A database copy is written in parts of about this size. */
    private static final long COPY_BATCH_BYTES = 16L << 20;

    /**
     * Stores the batch durably and returns what it made stale in a page cache. Blocking: runs on
     * the blocking dispatcher.
     */
    public StoreChanges write(WalBatch batch) {
        Faults.reach(Faults.Point.BEFORE_STORE);
        copied = StoreChanges.NONE;
        StoreBatch b = store.newBatch();
        StoreChanges written = StoreChanges.NONE;
        try {
            for (WalRecord r : batch.records()) {
                if (r.endLsn().compareTo(indexFrom) <= 0) {
                    continue;
                }
                DatabaseRecord db = DatabaseRecord.of(r);
                TablespaceRecord ts = TablespaceRecord.of(r);
                if (db != null || ts != null) {
                    // a database's or tablespace's relations and files are read from the
                    // store as of this record, so what came before it must be there: store
                    // it now (it is idempotent if the batch is written again after a crash)
                    b.commit();
                    written = written.plus(b.changes());
                    b.close();
                    b = store.newBatch();
                    if (db != null) {
                        b = applyDatabase(b, r, db);
                    } else {
                        applyTablespace(b, r, ts);
                    }
                }
                index(b, r);
            }
            if (batch.wal().length > 0) {
                b.putWal(batch.walStart(), batch.wal());
            }
            b.setDurableLsn(batch.durableLsn(), batch.durableLsn());
            b.commit();
            Faults.reach(Faults.Point.MID_FLUSH);
            return written.plus(copied).plus(b.changes());
        } finally {
            b.close();
        }
    }

    /**
     * Mirrors dbase_redo (dbcommands.c, PG15). FILE_COPY: every fork of every relation of the
     * source database as of this record, and its files, appear in the new database at this
     * record, as copydir copies the files: each block is rebuilt as of the record and
     * stored as an image at it (so nothing older kept under a reused OID can leak in).
     * WAL_LOG: the directory and PG_VERSION. DROP: every relation and file of the database
     * is gone from this record on. Returns the batch to go on with (large copies are
     * written in parts).
     */
    private StoreBatch applyDatabase(StoreBatch b, WalRecord r, DatabaseRecord db) {
        Lsn at = r.endLsn();
        if (db instanceof DatabaseRecord.FileCopy c) {
            for (Map.Entry<RelTag, Integer> e : store.relations(at).entrySet()) {
                RelTag src = e.getKey();
                if (src.spcNode() != c.srcTablespaceId() || src.dbNode() != c.srcDbId()) {
                    continue;
                }
                RelTag dst = new RelTag(c.tablespaceId(), c.dbId(), src.relNode(), src.fork());
                int n = e.getValue();
                b.putRelSize(dst, at, n);
                relSizes.put(dst, n);
                for (int blk = 0; Integer.compareUnsigned(blk, n) < 0; blk++) {
                    PageHistory h = store.pageHistory(src, blk, at);
                    if (h.isEmpty()) {
                        continue; // never written: reads as zeros in both
                    }
                    try {
                        b.putImage(dst, blk, at, PageRebuild.rebuild(h, new BufferTag(src, blk), hintsLogged));
                    } catch (RedoException | WalDecodeException notRedoneYet) {
                        // (a resource manager not redone yet, an image that does not
                        // decompress) the history itself, so that reads of the copy fail
                        // the same clear way as reads of the source, and the copy goes on
                        if (h.baseImage() != null) {
                            b.putImage(dst, blk, h.baseLsn(), h.baseImage());
                        }
                        for (PageHistory.StoredRecord sr : h.records()) {
                            b.putRecord(dst, blk, sr.startLsn(), sr.endLsn(), sr.change(), sr.startsChain(), sr.raw());
                        }
                    }
                    if (b.sizeBytes() > COPY_BATCH_BYTES) {
                        b.commit();
                        copied = copied.plus(b.changes());
                        b.close();
                        b = store.newBatch();
                    }
                }
            }
            String from = DatabaseRecord.databasePath(c.srcTablespaceId(), c.srcDbId()) + "/";
            String to = DatabaseRecord.databasePath(c.tablespaceId(), c.dbId()) + "/";
            b.putFile(to, at, new byte[0]);
            for (String path : store.files(at)) {
                if (path.startsWith(from) && path.length() > from.length()) {
                    byte[] content = store.file(path, at).orElse(null);
                    if (content != null) {
                        b.putFile(to + path.substring(from.length()), at, content);
                    }
                }
            }
        } else if (db instanceof DatabaseRecord.WalLog w) {
            String dir = DatabaseRecord.databasePath(w.tablespaceId(), w.dbId()) + "/";
            b.putFile(dir, at, new byte[0]);
            b.putFile(dir + "PG_VERSION", at, PG_VERSION);
        } else if (db instanceof DatabaseRecord.Drop d) {
            for (int ts : d.tablespaceIds()) {
                for (RelTag rel : store.relations(at).keySet()) {
                    if (rel.spcNode() == ts && rel.dbNode() == d.dbId()) {
                        b.dropRel(rel, at);
                        relSizes.put(rel, -1);
                    }
                }
                String dir = DatabaseRecord.databasePath(ts, d.dbId()) + "/";
                for (String path : store.files(at)) {
                    if (path.startsWith(dir)) {
                        b.putFile(path, at, null);
                    }
                }
            }
        }
        return b;
    }

    private void index(StoreBatch b, WalRecord r) {
        for (BlockRef ref : r.blocks()) {
            boolean startsChain = ref.willInit() || (ref.hasImage() && ref.applyImage());
            b.putRecord(ref.rel(), ref.blkno(), r.startLsn(), r.endLsn(), new PageChange.RegisteredBlock(ref.blockId()),
                startsChain, r.raw());
            extend(b, ref.rel(), ref.blkno(), r);
        }
        for (WalRedo.ImplicitBlock ib : WalRedo.implicitBlocks(r)) {
            b.putRecord(ib.rel(), ib.blkno(), r.startLsn(), r.endLsn(), PageChange.IMPLICIT_VISIBILITY_MAP, false,
                r.raw());
            if (relSize(ib.rel()) >= 0) {
                extend(b, ib.rel(), ib.blkno(), r);
            }
        }
        indexSlru(b, r);
        indexControlState(b, r);
        StorageEffects fx = StorageEffects.of(r);
        if (!fx.isEmpty()) {
            applyStorageEffects(b, r, fx);
        }
    }

    /**
     * Mirrors tblspc_redo (tablespace.c, PG15). CREATE: the link pg_tblspc/&lt;oid&gt; to its
     * location (a directory for an in-place tablespace) and the version directory inside it. DROP: both gone, with anything still
     * recorded below them (PostgreSQL drops only an empty tablespace).
     */
    private void applyTablespace(StoreBatch b, WalRecord r, TablespaceRecord ts) {
        Lsn at = r.endLsn();
        String link = TablespaceRecord.linkPath(ts.tablespaceId());
        if (ts instanceof TablespaceRecord.Create c) {
            if (c.inPlace()) {
                b.putFile(link + "/", at, new byte[0]);
            } else {
                b.putSymlink(link, at, c.location());
            }
            b.putFile(link + "/" + TablespaceRecord.VERSION_DIRECTORY + "/", at, new byte[0]);
        } else {
            b.putFile(link, at, null);
            for (String path : store.files(at)) {
                if (path.startsWith(link + "/")) {
                    b.putFile(path, at, null);
                }
            }
            for (RelTag rel : store.relations(at).keySet()) {
                if (rel.spcNode() == ts.tablespaceId() && relSize(rel) >= 0) {
                    b.dropRel(rel, at);
                    relSizes.put(rel, -1);
                }
            }
        }
    }

    /**
     * SLRU pages (SlruKind pseudo-relations) the record changes: each gets the record,
     * a ZEROPAGE one as the start of a new chain. Commit timestamps are kept while the
     * commit_ts SLRU exists, which follows track_commit_timestamp as PostgreSQL's
     * CommitTsParameterChange does (DeactivateCommitTs removes every segment).
     */
    private void indexSlru(StoreBatch b, WalRecord r) {
        RelTag commitTs = SlruKind.COMMIT_TS.rel();
        Integer ckptXid = SlruRedo.checkpointNextXid(r);
        if (ckptXid != null) {
            checkpointNextXid = ckptXid;
            b.putFile(CHECKPOINT_NEXT_XID_FILE, r.endLsn(), java.nio.ByteBuffer.allocate(4)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(ckptXid).array());
        }
        Boolean track = SlruRedo.commitTsParameter(r);
        if (track != null) {
            if (track && relSize(commitTs) < 0) {
                // ActivateCommitTs creates the (zero) page of the checkpoint's next xid, without WAL
                Integer xid = lastCheckpointNextXid();
                int size = xid == null ? 0 : SlruRedo.commitTsPage(xid) + 1;
                b.putRelSize(commitTs, r.endLsn(), size);
                relSizes.put(commitTs, size);
            } else if (!track && relSize(commitTs) >= 0) {
                // every page starts from zeros if the module writes it again (SlruRedo.redo)
                for (int p = 0; p < relSize(commitTs); p++) {
                    b.putRecord(commitTs, p, r.startLsn(), r.endLsn(), PageChange.SLRU_PAGE, true, r.raw());
                }
                b.dropRel(commitTs, r.endLsn());
                relSizes.put(commitTs, -1);
            }
            return;
        }
        for (SlruRedo.SlruPage p : SlruRedo.pages(r, relSize(commitTs) >= 0)) {
            RelTag rel = p.kind().rel();
            b.putRecord(rel, p.pageno(), r.startLsn(), r.endLsn(), PageChange.SLRU_PAGE, p.zeroes(), r.raw());
            extend(b, rel, p.pageno(), r);
        }
        for (SlruRedo.Truncation t : SlruRedo.truncations(r)) {
            org.slf4j.LoggerFactory.getLogger(BatchWriter.class).info("{} truncated on the primary before page {} at {}:"
                + " the pageserver keeps the pages before it", t.kind().dir, t.cutoffPage(), r.endLsn());
        }
    }

    /**
     * What a base backup needs of the WAL that is in no page: the last checkpoint and the
     * last parameter change (WalStateFiles), and the two-phase
     * state of prepared transactions, kept as {@code pg_twophase/<XID>} from the PREPARE
     * record until the COMMIT PREPARED or ABORT PREPARED that finishes it (PostgreSQL
     * writes those files only at a checkpoint, from the same bytes).
     */
    private void indexControlState(StoreBatch b, WalRecord r) {
        if (SlruRedo.checkpointNextXid(r) != null) {
            byte[] v = new byte[8 + r.mainData().length];
            java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(r.startLsn().value());
            System.arraycopy(r.mainData(), 0, v, 8, r.mainData().length);
            b.putFile(WalStateFiles.CHECKPOINT, r.endLsn(), v);
        } else if (org.pageserver.redo.XlParameterChange.parse(r) != null) {
            b.putFile(WalStateFiles.PARAMETER_CHANGE, r.endLsn(), r.mainData());
        } else if (XlXactPrepare.isPrepare(r)) {
            XlXactPrepare p = XlXactPrepare.parse(r);
            b.putFile(p.path(), r.endLsn(), p.stateFile());
        } else {
            Integer finished = XlXactPrepare.finished(r);
            if (finished != null) {
                b.putFile(XlXactPrepare.path(finished), r.endLsn(), null);
            }
        }
    }

    /** The next xid of the last checkpoint indexed, from the store after a reconnect; null when unknown. */
    private Integer lastCheckpointNextXid() {
        if (checkpointNextXid == null) {
            checkpointNextXid = store.file(CHECKPOINT_NEXT_XID_FILE, Lsn.MAX).filter(f -> f.length == 4)
                .map(f -> java.nio.ByteBuffer.wrap(f).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt()).orElse(null);
        }
        return checkpointNextXid;
    }

    /** Relation files created, truncated and dropped, versioned at the record's LSN. */
    private void applyStorageEffects(StoreBatch b, WalRecord r, StorageEffects fx) {
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
    private void extend(StoreBatch b, RelTag rel, int blkno, WalRecord r) {
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
