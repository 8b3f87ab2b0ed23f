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
 * <li>Heap, Heap2 and Btree ({@link HeapXlog#check}, {@link NbtXlog#check}), the index access
 *     methods and generic WAL ({@link HashXlog#check}, {@link GinXlog#check},
 *     {@link GistXlog#check}, {@link SpgXlog#check}, {@link BrinXlog#check},
 *     {@link GenericXlog#check}), LogicalMessage and ReplicationOrigin
 *     ({@link ReplicationXlog#check}): the record type, its main data parsed into its xl_*
 *     struct (and what follows it), the block ids the redo routine reads, and the data of each
 *     block it does not restore from a full-page image (tuples, offset arrays, metadata, as many
 *     as the main data counts), with the same parsers redo decodes the record with;</li>
 * <li>the others redone or followed here (XLOG, Transaction, Storage, CLOG, Database,
 *     Tablespace, MultiXact, RelMap, Standby, Sequence, CommitTs), from the table below: the
 *     record type, the main data length (the SizeOf* of its xl_* struct), the block ids the redo
 *     routine reads, the whole of what the ingest applies to files; XLOG_FPI blocks must carry
 *     an image;</li>
 * <li>any other id (22 to 127 unused; 128 to 255 custom resource managers, whose record
 *     formats an extension defines): refused.</li>
 * </ul>
 *
 * <p>Records that change SLRU pages are parsed whole ({@link SlruRedo#pages}): a commit or
 * abort whose xinfo announces more than its main data holds, or a MultiXact creation short of
 * its members, is refused too.
 *
 * <p>The minimum sizes are PG15's, read off its headers with a C program printing
 * their SizeOf* macros (offsetof-based, as the headers define them) on x86-64:
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

        // tablespace.h: xl_tblspc_create_rec a u32 and a NUL-terminated path, xl_tblspc_drop_rec a u32
        shape(RmgrId.RM_TBLSPC_ID, 0x00, "CREATE", 5);
        shape(RmgrId.RM_TBLSPC_ID, 0x10, "DROP", 4);

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

        // xl_seq_rec, then the sequence's tuple: at least its SizeofHeapTupleHeader (23)
        shape(RmgrId.RM_SEQ_ID, 0x00, "LOG", 12 + 23, 0);

        shape(RmgrId.RM_COMMIT_TS_ID, 0x00, "ZEROPAGE", 4);
        shape(RmgrId.RM_COMMIT_TS_ID, 0x10, "TRUNCATE", 8); // xl_commit_ts_truncate
    }

    /** The bits of xl_info naming the record type, per resource manager (flags masked off). */
    private static int opcode(WalRecord r) {
        int info = r.info() & WalRecord.XLR_RMGR_INFO_MASK;
        return switch (r.rmid()) {
            case RmgrId.RM_XACT_ID -> info & 0x70; // XLOG_XACT_HAS_INFO is a flag

            default -> info;
        };
    }

    /**
     * @throws RedoException naming the record and its LSN when it cannot be stored
     */
    public static void check(WalRecord r) {
        int rmid = r.rmid();
        // the resource managers whose structs have their own parsers (heapam_xlog.h, nbtxlog.h,
        // hash_xlog.h, ginxlog.h, gistxlog.h, spgxlog.h, brin_xlog.h, generic_xlog.c,
        // replication/message.h and origin.h); the others by the SHAPES table
        switch (rmid) {
            case RmgrId.RM_HEAP_ID, RmgrId.RM_HEAP2_ID -> HeapXlog.check(r);
            case RmgrId.RM_BTREE_ID -> NbtXlog.check(r);
            case RmgrId.RM_HASH_ID -> HashXlog.check(r);
            case RmgrId.RM_GIN_ID -> GinXlog.check(r);
            case RmgrId.RM_GIST_ID -> GistXlog.check(r);
            case RmgrId.RM_SPGIST_ID -> SpgXlog.check(r);
            case RmgrId.RM_BRIN_ID -> BrinXlog.check(r);
            case RmgrId.RM_GENERIC_ID -> GenericXlog.check(r);
            case RmgrId.RM_LOGICALMSG_ID, RmgrId.RM_REPLORIGIN_ID -> ReplicationXlog.check(r);
            default -> checkShape(r);
        }
    }

    /** The resource managers of the SHAPES table: record type, main data, blocks, block data, effects. */
    private static void checkShape(WalRecord r) {
        int rmid = r.rmid();
        if (rmid < 0 || rmid > RmgrId.RM_MAX_BUILTIN_ID) {
            throw new RedoException("record of unknown resource manager " + rmid + (rmid >= 128
                ? " (a custom resource manager: its records cannot be redone here)" : ""), r.startLsn());
        }
        Shape s = SHAPES.get(rmid << 8 | opcode(r));
        if (s == null) {
            throw new RedoException("unknown " + RmgrId.name(rmid) + " record type (xl_info 0x"
                + Integer.toHexString(r.info()) + ")", r.startLsn());
        }
        RecordData.main(r, s.name(), s.minMainData());
        RecordData.needBlocks(r, s.name(), s.blocks());
        checkFullPageImages(r, s);
        // what the ingest applies to relation files and databases when it stores the record
        // must parse whole now: failing then would fail the write of every good record
        // batched with it (a relation map of the wrong size, a DROP DATABASE short of its
        // tablespaces, a tablespace path without its NUL, a commit short of its relfilenodes)
        StorageEffects.of(r);
        DatabaseRecord.of(r);
        TablespaceRecord.of(r);
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

    /**
     * xlog_redo (PG15): XLOG_FPI must restore every block from its image; FPI_FOR_HINT skips
     * blocks without one but must restore those that have one.
     */
    private static void checkFullPageImages(WalRecord r, Shape s) {
        int op = opcode(r);
        if (r.rmid() != RmgrId.RM_XLOG_ID || (op != 0xA0 && op != 0xB0)) {
            return;
        }
        for (BlockRef b : r.blocks()) {
            if ((op == 0xB0 || b.hasImage()) && !(b.hasImage() && b.applyImage())) {
                throw RecordData.malformed(r, s.name(), "block " + b.blockId() + " has no full-page image to restore");
            }
        }
    }
}
