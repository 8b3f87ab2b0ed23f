package org.pageserver.redo;

import java.util.HashMap;
import java.util.Map;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Checks a decoded record before it is stored: its resource manager must be one PostgreSQL 15
 * has, its record type one that resource manager writes, and its main data, block
 * references and block data at least what the type's redo routine reads. A record that fails stops the
 * tenant's ingest at its LSN: storing it would make every later read of its pages wrong, and
 * skipping it silently would too.
 *
 * <p>What is checked, per resource manager:
 * <ul>
 * <li>the ones redone or followed here (XLOG, Transaction, Storage, CLOG, Database, MultiXact,
 *     RelMap, Standby, Heap2, Heap, Btree, Sequence, CommitTs): the record type, the main data
 *     length (the SizeOf* of its xl_* struct), the block ids the redo routine reads, and the
 *     data of each block it does not restore from a full-page image (tuples, offset arrays,
 *     metadata, as many as the main data counts); XLOG_FPI blocks must carry an image;</li>
 * <li>the ones PostgreSQL has but this server does not redo yet (Tablespace, Hash, Gin, Gist,
 *     SPGist, BRIN, ReplicationOrigin, Generic, LogicalMessage): accepted; reads of their pages
 *     fail with "redo of &lt;rmgr&gt; records is not supported yet" until they are;</li>
 * <li>any other id (22 to 127 unused; 128 to 255 custom resource managers, whose record
 *     formats an extension defines): refused.</li>
 * </ul>
 *
 * <p>Records that change SLRU pages are parsed whole ({@link SlruRedo#pages}): a commit or
 * abort whose xinfo announces more than its main data holds, or a MultiXact creation short of
 * its members, is refused too.
 *
 * <p>The minimum sizes are PG15's, read off its headers with a C program printing
 * {@code SizeOfHeapInsert} and friends (offsetof-based, as the headers define them) on x86-64:
 * they are the bytes the redo routines read before anything variable.
 */
public final class RecordCheck {
    private RecordCheck() {
    }

    /** What one record type needs: its name as pg_waldump prints it, main data, blocks. */
    private record Shape(String name, int minMainData, int[] blocks) {
    }

    private static final Map<Integer, Shape> SHAPES = new HashMap<>();

    private static void shape(int rmid, int opcode, String name, int minMainData, int... blocks) {
        SHAPES.put(rmid << 8 | opcode, new Shape(name, minMainData, blocks));
    }

    static {
        int x = RmgrId.RM_XLOG_ID;
        // pg_control.h: CheckPoint 88, xl_parameter_change 28, xl_restore_point 72,
        // xl_end_of_recovery 16, xl_overwrite_contrecord 16; NEXTOID an Oid, BACKUP_END an LSN,
        // FPW_CHANGE a bool; the FPI records carry only images
        shape(x, 0x00, "CHECKPOINT_SHUTDOWN", 88);
        shape(x, 0x10, "CHECKPOINT_ONLINE", 88);
        shape(x, 0x20, "NOOP", 0);
        shape(x, 0x30, "NEXTOID", 4);
        shape(x, 0x40, "SWITCH", 0);
        shape(x, 0x50, "BACKUP_END", 8);
        shape(x, 0x60, "PARAMETER_CHANGE", 28);
        shape(x, 0x70, "RESTORE_POINT", 72);
        shape(x, 0x80, "FPW_CHANGE", 1);
        shape(x, 0x90, "END_OF_RECOVERY", 16);
        shape(x, 0xA0, "FPI_FOR_HINT", 0, 0);
        shape(x, 0xB0, "FPI", 0, 0);
        shape(x, 0xD0, "OVERWRITE_CONTRECORD", 16);

        int t = RmgrId.RM_XACT_ID; // xact.h: MinSizeOfXactCommit/Abort 8, xl_xact_prepare 72, assignment 8
        shape(t, 0x00, "COMMIT", 8);
        shape(t, 0x10, "PREPARE", 72);
        shape(t, 0x20, "ABORT", 8);
        shape(t, 0x30, "COMMIT_PREPARED", 8);
        shape(t, 0x40, "ABORT_PREPARED", 8);
        shape(t, 0x50, "ASSIGNMENT", 8);
        shape(t, 0x60, "INVALIDATION", 4);

        shape(RmgrId.RM_SMGR_ID, 0x10, "CREATE", 16);   // xl_smgr_create
        shape(RmgrId.RM_SMGR_ID, 0x20, "TRUNCATE", 20); // xl_smgr_truncate

        shape(RmgrId.RM_CLOG_ID, 0x00, "ZEROPAGE", 4);  // an int page number
        shape(RmgrId.RM_CLOG_ID, 0x10, "TRUNCATE", 12); // xl_clog_truncate

        shape(RmgrId.RM_DBASE_ID, 0x00, "CREATE_FILE_COPY", 16); // xl_dbase_create_file_copy_rec
        shape(RmgrId.RM_DBASE_ID, 0x10, "CREATE_WAL_LOG", 8);    // xl_dbase_create_wal_log_rec
        shape(RmgrId.RM_DBASE_ID, 0x20, "DROP", 8);              // xl_dbase_drop_rec

        int m = RmgrId.RM_MULTIXACT_ID;
        shape(m, 0x00, "ZERO_OFF_PAGE", 4);
        shape(m, 0x10, "ZERO_MEM_PAGE", 4);
        shape(m, 0x20, "CREATE_ID", 12);  // SizeOfMultiXactCreate
        shape(m, 0x30, "TRUNCATE_ID", 20); // SizeOfMultiXactTruncate

        shape(RmgrId.RM_RELMAP_ID, 0x00, "UPDATE", 12); // MinSizeOfRelmapUpdate

        shape(RmgrId.RM_STANDBY_ID, 0x00, "LOCK", 4);           // xl_standby_locks
        shape(RmgrId.RM_STANDBY_ID, 0x10, "RUNNING_XACTS", 24); // offsetof(xl_running_xacts, xids)
        shape(RmgrId.RM_STANDBY_ID, 0x20, "INVALIDATIONS", 16); // MinSizeOfInvalidations

        int h2 = RmgrId.RM_HEAP2_ID; // heapam_xlog.h
        shape(h2, 0x00, "REWRITE", 40); // xl_heap_rewrite_mapping (logical decoding only)
        shape(h2, 0x10, "PRUNE", 8, 0);
        shape(h2, 0x20, "VACUUM", 2, 0);
        shape(h2, 0x30, "FREEZE_PAGE", 6, 0);
        shape(h2, 0x40, "VISIBLE", 5, 0, 1);
        shape(h2, 0x50, "MULTI_INSERT", 4, 0);
        shape(h2, 0x60, "LOCK_UPDATED", 8, 0);
        shape(h2, 0x70, "NEW_CID", 34);

        int h = RmgrId.RM_HEAP_ID;
        shape(h, 0x00, "INSERT", 3, 0);
        shape(h, 0x10, "DELETE", 8, 0);
        shape(h, 0x20, "UPDATE", 14, 0);
        shape(h, 0x30, "TRUNCATE", 12);
        shape(h, 0x40, "HOT_UPDATE", 14, 0);
        shape(h, 0x50, "CONFIRM", 2, 0);
        shape(h, 0x60, "LOCK", 8, 0);
        shape(h, 0x70, "INPLACE", 2, 0);

        int b = RmgrId.RM_BTREE_ID; // nbtxlog.h
        shape(b, 0x00, "INSERT_LEAF", 2, 0);
        shape(b, 0x10, "INSERT_UPPER", 2, 0);
        shape(b, 0x20, "INSERT_META", 2, 0, 2);
        shape(b, 0x30, "SPLIT_L", 10, 0, 1);
        shape(b, 0x40, "SPLIT_R", 10, 0, 1);
        shape(b, 0x50, "INSERT_POST", 2, 0);
        shape(b, 0x60, "DEDUP", 2, 0);
        shape(b, 0x70, "DELETE", 8, 0);
        // _bt_unlink_halfdead_page: the target (0) and its right sibling (2) always; the left
        // sibling (1) only when there is one, the leaf (3) only when the target is not it
        shape(b, 0x80, "UNLINK_PAGE", 36, 0, 2);
        shape(b, 0x90, "UNLINK_PAGE_META", 36, 0, 2, 4);
        shape(b, 0xA0, "NEWROOT", 8, 0, 2);
        shape(b, 0xB0, "MARK_PAGE_HALFDEAD", 20, 0, 1);
        shape(b, 0xC0, "VACUUM", 4, 0);
        shape(b, 0xD0, "REUSE_PAGE", 24);
        shape(b, 0xE0, "META_CLEANUP", 0, 0);

        // xl_seq_rec, then the sequence's tuple: at least its SizeofHeapTupleHeader (23)
        shape(RmgrId.RM_SEQ_ID, 0x00, "LOG", 12 + 23, 0);

        shape(RmgrId.RM_COMMIT_TS_ID, 0x00, "ZEROPAGE", 4);
        shape(RmgrId.RM_COMMIT_TS_ID, 0x10, "TRUNCATE", 8); // xl_commit_ts_truncate
    }

    /** The bits of xl_info naming the record type, per resource manager (flags masked off). */
    private static int opcode(WalRecord r) {
        int info = r.info() & WalRecord.XLR_RMGR_INFO_MASK;
        return switch (r.rmid()) {
            // XLOG_XACT_HAS_INFO; XLOG_HEAP_INIT_PAGE (Heap2 MULTI_INSERT has it too)
            case RmgrId.RM_XACT_ID, RmgrId.RM_HEAP_ID, RmgrId.RM_HEAP2_ID -> info & 0x70;
            default -> info;
        };
    }

    /** Resource managers PostgreSQL 15 has whose records are accepted without being redone. */
    private static boolean notRedone(int rmid) {
        return switch (rmid) {
            case RmgrId.RM_TBLSPC_ID, RmgrId.RM_HASH_ID, RmgrId.RM_GIN_ID, RmgrId.RM_GIST_ID, RmgrId.RM_SPGIST_ID,
                RmgrId.RM_BRIN_ID, RmgrId.RM_REPLORIGIN_ID, RmgrId.RM_GENERIC_ID, RmgrId.RM_LOGICALMSG_ID -> true;
            default -> false;
        };
    }

    /**
     * @throws RedoException naming the record and its LSN when it cannot be stored
     */
    public static void check(WalRecord r) {
        int rmid = r.rmid();
        if (notRedone(rmid)) {
            return;
        }
        if (rmid < 0 || rmid > RmgrId.RM_MAX_BUILTIN_ID) {
            throw new RedoException("record of unknown resource manager " + rmid + (rmid >= 128
                ? " (a custom resource manager: its records cannot be redone here)" : ""), r.startLsn());
        }
        Shape s = SHAPES.get(rmid << 8 | opcode(r));
        if (s == null) {
            throw new RedoException("unknown " + RmgrId.name(rmid) + " record type (xl_info 0x"
                + Integer.toHexString(r.info()) + ")", r.startLsn());
        }
        int main = r.mainData() == null ? 0 : r.mainData().length;
        if (main < s.minMainData()) {
            throw new RedoException("malformed " + RmgrId.name(rmid) + " " + s.name() + " record: main data of "
                + main + " bytes, at least " + s.minMainData() + " needed", r.startLsn());
        }
        for (int id : s.blocks()) {
            if (r.block(id) == null) {
                throw new RedoException("malformed " + RmgrId.name(rmid) + " " + s.name() + " record: no block "
                    + id, r.startLsn());
            }
        }
        checkBlockData(r, s);
        // what the ingest applies to relation files and databases when it stores the record
        // must parse whole now: failing then would fail the write of every good record
        // batched with it (a relation map of the wrong size, a DROP DATABASE short of its
        // tablespaces, a commit short of its relfilenodes)
        StorageEffects.of(r);
        DatabaseRecord.of(r);
        // the SLRU pages it changes must be known: the whole xinfo chain of a commit or abort,
        // every member of a new multixact
        SlruRedo.pages(r, true);
        // a base backup writes a PREPARE's data as the transaction's pg_twophase state file,
        // and starts its counters past everything a checkpoint, NEXTOID, ASSIGNMENT or
        // truncation record says (CheckPointTracker)
        if (XlXactPrepare.isPrepare(r)) {
            XlXactPrepare.parse(r);
        }
        new CheckPointTracker(CHECK_SEED).apply(r);
    }

    /** Any CheckPoint: the tracker is run on one record only to check that it can read it. */
    private static final org.pageserver.protocol.control.ControlFile.CheckPoint CHECK_SEED =
        new org.pageserver.protocol.control.ControlFile.CheckPoint(org.pageserver.protocol.Lsn.INVALID, 1, 1, true,
            3, 0, 1, 0, 3, 0, 1, 0, 0, 0, 0, 0);

    /** xl_heap_header (heapam_xlog.h): t_infomask2 u16, t_infomask u16, t_hoff u8. */
    static final int SIZE_OF_HEAP_HEADER = 5;
    /** xl_heap_freeze_tuple: xmax u32, offset u16, t_infomask2 u16, t_infomask u16, frzflags u8, padded to 4. */
    static final int SIZE_OF_HEAP_FREEZE_TUPLE = 12;
    /** offsetof(xl_multi_insert_tuple, ...) end: datalen u16, t_infomask2 u16, t_infomask u16, t_hoff u8. */
    static final int SIZE_OF_MULTI_INSERT_TUPLE = 7;
    /** IndexTupleData: t_tid (6) and t_info u16. */
    static final int SIZE_OF_INDEX_TUPLE = 8;
    /** The bytes of xl_btree_metadata _bt_restore_meta reads (up to allequalimage). */
    static final int SIZE_OF_BTREE_METADATA = 25;

    /**
     * The data of block {@code id} as its redo routine will read it, or null when the routine
     * will not read it: the block is restored from its full-page image (BKPIMAGE_APPLY;
     * PostgreSQL then leaves its data out, unless REGBUF_KEEP_DATA) or the record has no
     * such block (checked by the shape). An absent data part reads as empty.
     */
    private static byte[] redoData(WalRecord r, int id) {
        BlockRef b = r.block(id);
        if (b == null || (b.hasImage() && b.applyImage())) {
            return null;
        }
        return b.data() == null ? new byte[0] : b.data();
    }

    private static void needBlock(WalRecord r, Shape s, int id, int n) {
        byte[] d = redoData(r, id);
        if (d != null && d.length < n) {
            throw new RedoException("malformed " + RmgrId.name(r.rmid()) + " " + s.name() + " record: block " + id
                + " data of " + d.length + " bytes, at least " + n + " needed", r.startLsn());
        }
    }

    private static RedoException badBlock(WalRecord r, Shape s, int id, String what) {
        return new RedoException("malformed " + RmgrId.name(r.rmid()) + " " + s.name() + " record: block " + id
            + " data " + what, r.startLsn());
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    /**
     * The block data each redo routine reads (heapam.c heap_xlog_*, nbtxlog.c btree_xlog_*,
     * xlog.c xlog_redo, PG15), for the blocks it does not restore from an image. Counts come
     * from the main data, whose length was checked before. Little-endian throughout.
     */
    private static void checkBlockData(WalRecord r, Shape s) {
        byte[] m = r.mainData();
        int op = opcode(r);
        switch (r.rmid()) {
            case RmgrId.RM_XLOG_ID -> {
                // xlog_redo: XLOG_FPI must restore every block from its image; FPI_FOR_HINT
                // skips blocks without one but must restore those that have one
                if (op == 0xA0 || op == 0xB0) {
                    for (BlockRef b : r.blocks()) {
                        if ((op == 0xB0 || b.hasImage()) && !(b.hasImage() && b.applyImage())) {
                            throw new RedoException("malformed XLOG " + s.name() + " record: block " + b.blockId()
                                + " has no full-page image to restore", r.startLsn());
                        }
                    }
                }
            }
            case RmgrId.RM_HEAP_ID -> {
                if (op == 0x00) { // INSERT: xl_heap_header + tuple
                    needBlock(r, s, 0, SIZE_OF_HEAP_HEADER);
                } else if (op == 0x20 || op == 0x40) { // UPDATE, HOT_UPDATE: [prefix u16] [suffix u16] xl_heap_header + tuple
                    int flags = m[7] & 0xFF;
                    int n = SIZE_OF_HEAP_HEADER + ((flags & 0x20) != 0 ? 2 : 0) + ((flags & 0x40) != 0 ? 2 : 0);
                    needBlock(r, s, 0, n);
                }
            }
            case RmgrId.RM_HEAP2_ID -> {
                switch (op) {
                    case 0x10 -> { // PRUNE: redirected pairs, dead, then unused offsets (u16 each)
                        byte[] d = redoData(r, 0);
                        needBlock(r, s, 0, (2 * u16(m, 4) + u16(m, 6)) * 2);
                        if (d != null && d.length % 2 != 0) {
                            throw badBlock(r, s, 0, "of odd length " + d.length + " (offsets are u16)");
                        }
                    }
                    case 0x20 -> needBlock(r, s, 0, 2 * u16(m, 0)); // VACUUM: nunused offsets
                    case 0x30 -> needBlock(r, s, 0, SIZE_OF_HEAP_FREEZE_TUPLE * u16(m, 4)); // FREEZE_PAGE
                    case 0x50 -> { // MULTI_INSERT: ntuples SHORTALIGNed xl_multi_insert_tuple + data
                        if ((r.info() & 0x80) == 0 && m.length < 4 + 2 * u16(m, 2)) {
                            throw new RedoException("malformed Heap2 MULTI_INSERT record: main data of " + m.length
                                + " bytes, " + u16(m, 2) + " offsets announced", r.startLsn());
                        }
                        byte[] d = redoData(r, 0);
                        if (d != null) {
                            int pos = 0;
                            for (int i = 0; i < u16(m, 2); i++) {
                                pos = (pos + 1) & ~1;
                                if (pos + SIZE_OF_MULTI_INSERT_TUPLE > d.length
                                    || pos + SIZE_OF_MULTI_INSERT_TUPLE + u16(d, pos) > d.length) {
                                    throw badBlock(r, s, 0, "of " + d.length + " bytes ends inside tuple " + (i + 1)
                                        + " of " + u16(m, 2));
                                }
                                pos += SIZE_OF_MULTI_INSERT_TUPLE + u16(d, pos);
                            }
                        }
                    }
                    default -> {
                    }
                }
            }
            case RmgrId.RM_BTREE_ID -> {
                switch (op) {
                    case 0x00, 0x10 -> needBlock(r, s, 0, SIZE_OF_INDEX_TUPLE); // INSERT_LEAF, INSERT_UPPER
                    case 0x20 -> { // INSERT_META
                        needBlock(r, s, 0, SIZE_OF_INDEX_TUPLE);
                        needBlock(r, s, 2, SIZE_OF_BTREE_METADATA);
                    }
                    case 0x50 -> needBlock(r, s, 0, 2 + SIZE_OF_INDEX_TUPLE); // INSERT_POST: postingoff + tuple
                    case 0x30, 0x40 -> { // SPLIT_L, SPLIT_R: [new item] left high key; the right page's items
                        boolean newItem = op == 0x30 || u16(m, 8) != 0;
                        needBlock(r, s, 0, (newItem ? 2 : 1) * SIZE_OF_INDEX_TUPLE);
                        needBlock(r, s, 1, SIZE_OF_INDEX_TUPLE);
                    }
                    case 0x60 -> needBlock(r, s, 0, 4 * u16(m, 0)); // DEDUP: nintervals of (baseoff, nitems)
                    case 0x70, 0xC0 -> { // DELETE, VACUUM: deleted and updated offsets, then an xl_btree_update each
                        int at = op == 0xC0 ? 0 : 4;
                        int ndeleted = u16(m, at);
                        int nupdated = u16(m, at + 2);
                        needBlock(r, s, 0, 2 * (ndeleted + nupdated));
                        byte[] d = redoData(r, 0);
                        if (d != null) {
                            int pos = 2 * (ndeleted + nupdated);
                            for (int i = 0; i < nupdated; i++) {
                                if (pos + 2 > d.length || pos + 2 + 2 * u16(d, pos) > d.length) {
                                    throw badBlock(r, s, 0, "of " + d.length + " bytes ends inside update " + (i + 1)
                                        + " of " + nupdated);
                                }
                                pos += 2 + 2 * u16(d, pos);
                            }
                        }
                    }
                    case 0xA0 -> { // NEWROOT: the root's downlinks when above the leaves; the metapage
                        if ((u16(m, 4) | u16(m, 6)) != 0) {
                            needBlock(r, s, 0, SIZE_OF_INDEX_TUPLE);
                        }
                        needBlock(r, s, 2, SIZE_OF_BTREE_METADATA);
                    }
                    case 0x90 -> needBlock(r, s, 4, SIZE_OF_BTREE_METADATA); // UNLINK_PAGE_META
                    case 0xE0 -> needBlock(r, s, 0, SIZE_OF_BTREE_METADATA); // META_CLEANUP
                    default -> {
                    }
                }
            }
            default -> {
            }
        }
    }
}
