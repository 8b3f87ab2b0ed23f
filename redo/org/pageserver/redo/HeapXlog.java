package org.pageserver.redo;

import static org.pageserver.redo.RecordData.u16;
import static org.pageserver.redo.RecordData.u32;
import static org.pageserver.redo.RecordData.u64;

import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Mirrors access/heapam_xlog.h (PG15): the RM_HEAP_ID and RM_HEAP2_ID record types and flags,
 * and each record's main data decoded once into a record named after its C struct, its length
 * checked against the header's SizeOf* (and against what the struct announces after it). The
 * redo routines (HeapRedo, Heap2Redo), the implicit visibility map changes (WalRedo) and the
 * ingest check ({@link #check}) read the structs only through these. Little-endian, x86-64
 * alignment, as the primary wrote them.
 */
final class HeapXlog {
    static final int XLOG_HEAP_INSERT = 0x00;
    static final int XLOG_HEAP_DELETE = 0x10;
    static final int XLOG_HEAP_UPDATE = 0x20;
    static final int XLOG_HEAP_TRUNCATE = 0x30;
    static final int XLOG_HEAP_HOT_UPDATE = 0x40;
    static final int XLOG_HEAP_CONFIRM = 0x50;
    static final int XLOG_HEAP_LOCK = 0x60;
    static final int XLOG_HEAP_INPLACE = 0x70;
    static final int XLOG_HEAP_OPMASK = 0x70;
    /** A flag, not a type: the record's block starts from an empty page. */
    static final int XLOG_HEAP_INIT_PAGE = 0x80;

    static final int XLOG_HEAP2_REWRITE = 0x00;
    static final int XLOG_HEAP2_PRUNE = 0x10;
    static final int XLOG_HEAP2_VACUUM = 0x20;
    static final int XLOG_HEAP2_FREEZE_PAGE = 0x30;
    static final int XLOG_HEAP2_VISIBLE = 0x40;
    static final int XLOG_HEAP2_MULTI_INSERT = 0x50;
    static final int XLOG_HEAP2_LOCK_UPDATED = 0x60;
    static final int XLOG_HEAP2_NEW_CID = 0x70;

    static final int XLH_INSERT_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_INSERT_CONTAINS_NEW_TUPLE = 1 << 3;
    static final int XLH_INSERT_ALL_FROZEN_SET = 1 << 5;
    static final int XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED = 1 << 1;
    static final int XLH_UPDATE_CONTAINS_OLD_TUPLE = 1 << 2;
    static final int XLH_UPDATE_CONTAINS_OLD_KEY = 1 << 3;
    static final int XLH_UPDATE_PREFIX_FROM_OLD = 1 << 5;
    static final int XLH_UPDATE_SUFFIX_FROM_OLD = 1 << 6;
    static final int XLH_DELETE_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_DELETE_CONTAINS_OLD_TUPLE = 1 << 1;
    static final int XLH_DELETE_CONTAINS_OLD_KEY = 1 << 2;
    static final int XLH_DELETE_IS_SUPER = 1 << 3;
    static final int XLH_DELETE_IS_PARTITION_MOVE = 1 << 4;
    static final int XLH_LOCK_ALL_FROZEN_CLEARED = 1;
    /** The infobits_set of delete, update and lock records: the tuple's new xmax flags. */
    static final int XLHL_XMAX_IS_MULTI = 0x01;
    static final int XLHL_XMAX_LOCK_ONLY = 0x02;
    static final int XLHL_XMAX_EXCL_LOCK = 0x04;
    static final int XLHL_XMAX_KEYSHR_LOCK = 0x08;
    static final int XLHL_KEYS_UPDATED = 0x10;
    static final int XLH_FREEZE_XVAC = 0x02;
    static final int XLH_INVALID_XVAC = 0x04;

    /** xl_heap_header: t_infomask2 u16, t_infomask u16, t_hoff u8. */
    static final int SIZE_OF_HEAP_HEADER = 5;
    /** xl_heap_freeze_tuple: xmax u32, offset u16, t_infomask2 u16, t_infomask u16, frzflags u8, padded to 4. */
    static final int SIZE_OF_HEAP_FREEZE_TUPLE = 12;
    /** SizeOfMultiInsertTuple: datalen u16, t_infomask2 u16, t_infomask u16, t_hoff u8. */
    static final int SIZE_OF_MULTI_INSERT_TUPLE = 7;
    /** LogicalRewriteMappingData (access/rewriteheap.h): old_node, new_node (12 each), old_tid, new_tid (6 each). */
    static final int SIZE_OF_LOGICAL_REWRITE_MAPPING = 36;

    private static final String[] HEAP_TYPES = {"INSERT", "DELETE", "UPDATE", "TRUNCATE", "HOT_UPDATE", "CONFIRM",
        "LOCK", "INPLACE"};
    private static final String[] HEAP2_TYPES = {"REWRITE", "PRUNE", "VACUUM", "FREEZE_PAGE", "VISIBLE",
        "MULTI_INSERT", "LOCK_UPDATED", "NEW_CID"};

    private HeapXlog() {
    }

    static int opcode(WalRecord r) {
        return r.rmgrInfo() & XLOG_HEAP_OPMASK;
    }

    /** The record type's name as pg_waldump prints it (heapdesc.c). */
    static String type(WalRecord r) {
        return (r.rmid() == RmgrId.RM_HEAP_ID ? HEAP_TYPES : HEAP2_TYPES)[opcode(r) >> 4];
    }

    /** xl_heap_header: the fields of a tuple's header WAL carries. */
    record XlHeapHeader(int infomask2, int infomask, int hoff) {
        static XlHeapHeader parse(byte[] d, int off) {
            return new XlHeapHeader(u16(d, off), u16(d, off + 2), d[off + 4] & 0xFF);
        }
    }

    /**
     * The old tuple a logical-level primary logs after a delete's or update's struct
     * (XLH_*_CONTAINS_OLD_TUPLE / _KEY): its xl_heap_header, then its data; null when absent.
     */
    private static XlHeapHeader oldTupleHeader(WalRecord r, int size, boolean contained) {
        if (!contained) {
            return null;
        }
        byte[] m = RecordData.main(r, type(r), size + SIZE_OF_HEAP_HEADER);
        return XlHeapHeader.parse(m, size);
    }

    /** xl_heap_insert: offnum u16, flags u8. */
    record XlHeapInsert(int offnum, int flags) {
        static final int SIZE = 3;

        static XlHeapInsert parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapInsert(u16(m, 0), m[2] & 0xFF);
        }
    }

    /** xl_heap_delete: xmax u32, offnum u16, infobits_set u8, flags u8; the old tuple (logical) after it. */
    record XlHeapDelete(int xmax, int offnum, int infobitsSet, int flags, XlHeapHeader oldTuple) {
        static final int SIZE = 8;

        static XlHeapDelete parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            int flags = m[7] & 0xFF;
            XlHeapHeader old = oldTupleHeader(r, SIZE, (flags & (XLH_DELETE_CONTAINS_OLD_TUPLE | XLH_DELETE_CONTAINS_OLD_KEY)) != 0);
            return new XlHeapDelete(u32(m, 0), u16(m, 4), m[6] & 0xFF, flags, old);
        }
    }

    /**
     * xl_heap_update: old_xmax u32, old_offnum u16, old_infobits_set u8, flags u8, new_xmax u32,
     * new_offnum u16; the old tuple (logical) after it.
     */
    record XlHeapUpdate(int oldXmax, int oldOffnum, int oldInfobitsSet, int flags, int newXmax, int newOffnum,
                        XlHeapHeader oldTuple) {
        static final int SIZE = 14;

        static XlHeapUpdate parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            int flags = m[7] & 0xFF;
            XlHeapHeader old = oldTupleHeader(r, SIZE, (flags & (XLH_UPDATE_CONTAINS_OLD_TUPLE | XLH_UPDATE_CONTAINS_OLD_KEY)) != 0);
            return new XlHeapUpdate(u32(m, 0), u16(m, 4), m[6] & 0xFF, flags, u32(m, 8), u16(m, 12), old);
        }

        boolean prefixFromOld() {
            return (flags & XLH_UPDATE_PREFIX_FROM_OLD) != 0;
        }

        boolean suffixFromOld() {
            return (flags & XLH_UPDATE_SUFFIX_FROM_OLD) != 0;
        }

        /** The bytes of the new tuple's block data before its xl_heap_header: the prefix and suffix lengths (u16 each). */
        int prefixSuffixLength() {
            return (prefixFromOld() ? 2 : 0) + (suffixFromOld() ? 2 : 0);
        }
    }

    /** xl_heap_truncate: dbId u32, nrelids u32, flags u8, relids u32[] from offset 12. */
    record XlHeapTruncate(int dbId, int flags, int[] relids) {
        static final int SIZE = 12;

        static XlHeapTruncate parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            long n = Integer.toUnsignedLong(u32(m, 4));
            RecordData.main(r, type(r), (int) Math.min(Integer.MAX_VALUE, SIZE + 4 * n));
            int[] relids = new int[(int) n];
            for (int i = 0; i < n; i++) {
                relids[i] = u32(m, SIZE + 4 * i);
            }
            return new XlHeapTruncate(u32(m, 0), m[8] & 0xFF, relids);
        }
    }

    /** xl_heap_confirm: offnum u16. */
    record XlHeapConfirm(int offnum) {
        static final int SIZE = 2;

        static XlHeapConfirm parse(WalRecord r) {
            return new XlHeapConfirm(u16(RecordData.main(r, type(r), SIZE), 0));
        }
    }

    /** xl_heap_lock: locking_xid u32, offnum u16, infobits_set u8, flags u8. */
    record XlHeapLock(int lockingXid, int offnum, int infobitsSet, int flags) {
        static final int SIZE = 8;

        static XlHeapLock parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapLock(u32(m, 0), u16(m, 4), m[6] & 0xFF, m[7] & 0xFF);
        }
    }

    /** xl_heap_inplace: offnum u16. */
    record XlHeapInplace(int offnum) {
        static final int SIZE = 2;

        static XlHeapInplace parse(WalRecord r) {
            return new XlHeapInplace(u16(RecordData.main(r, type(r), SIZE), 0));
        }
    }

    /**
     * xl_heap_rewrite_mapping: mapped_xid u32, mapped_db u32, mapped_rel u32, offset i64 (at 16),
     * num_mappings u32, start_lsn u64 (at 32); then num_mappings LogicalRewriteMappingData.
     */
    record XlHeapRewriteMapping(int mappedXid, int mappedDb, int mappedRel, long offset, int numMappings,
                                long startLsn) {
        static final int SIZE = 40;

        static XlHeapRewriteMapping parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            long n = Integer.toUnsignedLong(u32(m, 24));
            RecordData.main(r, type(r), (int) Math.min(Integer.MAX_VALUE, SIZE + SIZE_OF_LOGICAL_REWRITE_MAPPING * n));
            long offset = u64(m, 16);
            if (offset < 0) {
                throw RecordData.malformed(r, type(r), "negative mapping file offset " + offset);
            }
            return new XlHeapRewriteMapping(u32(m, 0), u32(m, 4), u32(m, 8), offset, (int) n, u64(m, 32));
        }
    }

    /** xl_heap_prune: latestRemovedXid u32, nredirected u16, ndead u16. */
    record XlHeapPrune(int latestRemovedXid, int nredirected, int ndead) {
        static final int SIZE = 8;

        static XlHeapPrune parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapPrune(u32(m, 0), u16(m, 4), u16(m, 6));
        }

        /** The block data's offsets before the unused ones: redirect pairs, then dead. */
        int redirectedAndDeadOffsets() {
            return 2 * nredirected + ndead;
        }
    }

    /** xl_heap_vacuum: nunused u16 (the offsets are block 0's data). */
    record XlHeapVacuum(int nunused) {
        static final int SIZE = 2;

        static XlHeapVacuum parse(WalRecord r) {
            return new XlHeapVacuum(u16(RecordData.main(r, type(r), SIZE), 0));
        }
    }

    /** xl_heap_freeze_page: cutoff_xid u32, ntuples u16 (the xl_heap_freeze_tuple array is block 0's data). */
    record XlHeapFreezePage(int cutoffXid, int ntuples) {
        static final int SIZE = 6;

        static XlHeapFreezePage parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapFreezePage(u32(m, 0), u16(m, 4));
        }
    }

    /** xl_heap_visible: cutoff_xid u32, flags u8 (the VISIBILITYMAP_* bits to set). */
    record XlHeapVisible(int cutoffXid, int flags) {
        static final int SIZE = 5;

        static XlHeapVisible parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapVisible(u32(m, 0), m[4] & 0xFF);
        }
    }

    /**
     * xl_heap_multi_insert: flags u8, pad, ntuples u16, offsets u16[ntuples] (left out with
     * XLOG_HEAP_INIT_PAGE: the tuples then take offsets 1..ntuples).
     */
    record XlHeapMultiInsert(int flags, int ntuples, int[] offsets) {
        static final int SIZE = 4;

        static XlHeapMultiInsert parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            int n = u16(m, 2);
            boolean init = (r.rmgrInfo() & XLOG_HEAP_INIT_PAGE) != 0;
            if (!init && m.length < SIZE + 2 * n) {
                throw RecordData.malformed(r, type(r), "main data of " + m.length + " bytes, " + n + " offsets announced");
            }
            int[] offsets = new int[n];
            for (int i = 0; i < n; i++) {
                offsets[i] = init ? i + 1 : u16(m, SIZE + 2 * i);
            }
            return new XlHeapMultiInsert(m[0] & 0xFF, n, offsets);
        }

        /**
         * Where each xl_multi_insert_tuple starts in block 0's data (SHORTALIGNed, each followed by
         * its datalen bytes).
         */
        int[] tupleStarts(WalRecord r, byte[] d) {
            int[] starts = new int[ntuples];
            int pos = 0;
            for (int i = 0; i < ntuples; i++) {
                pos = (pos + 1) & ~1;
                if (pos + SIZE_OF_MULTI_INSERT_TUPLE > d.length
                    || pos + SIZE_OF_MULTI_INSERT_TUPLE + u16(d, pos) > d.length) {
                    throw RecordData.badBlock(r, type(r), 0, "of " + d.length + " bytes ends inside tuple " + (i + 1)
                        + " of " + ntuples);
                }
                starts[i] = pos;
                pos += SIZE_OF_MULTI_INSERT_TUPLE + u16(d, pos);
            }
            return starts;
        }
    }

    /** xl_heap_lock_updated: xmax u32, offnum u16, infobits_set u8, flags u8. */
    record XlHeapLockUpdated(int xmax, int offnum, int infobitsSet, int flags) {
        static final int SIZE = 8;

        static XlHeapLockUpdated parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlHeapLockUpdated(u32(m, 0), u16(m, 4), m[6] & 0xFF, m[7] & 0xFF);
        }
    }

    /**
     * xl_heap_new_cid: top_xid, cmin, cmax, combocid (u32 each), target_node (spc, db, rel),
     * target_tid (block u32 as two u16, offset u16).
     */
    record XlHeapNewCid(int topXid, int cmin, int cmax, int combocid, RelTag targetNode, int targetBlock,
                        int targetOffnum) {
        static final int SIZE = 34;

        static XlHeapNewCid parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            RelTag node = new RelTag(u32(m, 16), u32(m, 20), u32(m, 24), ForkNumber.MAIN);
            return new XlHeapNewCid(u32(m, 0), u32(m, 4), u32(m, 8), u32(m, 12), node, u16(m, 28) << 16 | u16(m, 30),
                u16(m, 32));
        }
    }

    /**
     * The ingest check of a Heap or Heap2 record: its main data parses, the blocks its redo
     * routine (heapam.c heap_redo, heap2_redo) reads are there, and the data of each it does not
     * restore from an image is what the main data announces: a tuple's header, the prune,
     * vacuum and freeze arrays, every multi-insert tuple.
     */
    static void check(WalRecord r) {
        String type = type(r);
        if (r.rmid() == RmgrId.RM_HEAP_ID) {
            switch (opcode(r)) {
                case XLOG_HEAP_INSERT -> {
                    XlHeapInsert.parse(r);
                    RecordData.needBlocks(r, type, 0);
                    RecordData.needBlock(r, type, 0, SIZE_OF_HEAP_HEADER);
                }
                case XLOG_HEAP_DELETE -> {
                    XlHeapDelete.parse(r);
                    RecordData.needBlocks(r, type, 0);
                }
                case XLOG_HEAP_UPDATE, XLOG_HEAP_HOT_UPDATE -> {
                    XlHeapUpdate x = XlHeapUpdate.parse(r);
                    RecordData.needBlocks(r, type, 0);
                    RecordData.needBlock(r, type, 0, x.prefixSuffixLength() + SIZE_OF_HEAP_HEADER);
                }
                case XLOG_HEAP_TRUNCATE -> XlHeapTruncate.parse(r);
                case XLOG_HEAP_CONFIRM -> {
                    XlHeapConfirm.parse(r);
                    RecordData.needBlocks(r, type, 0);
                }
                case XLOG_HEAP_LOCK -> {
                    XlHeapLock.parse(r);
                    RecordData.needBlocks(r, type, 0);
                }
                default -> { // XLOG_HEAP_INPLACE
                    XlHeapInplace.parse(r);
                    RecordData.needBlocks(r, type, 0);
                }
            }
            return;
        }
        switch (opcode(r)) {
            case XLOG_HEAP2_REWRITE -> XlHeapRewriteMapping.parse(r);
            case XLOG_HEAP2_PRUNE -> {
                XlHeapPrune x = XlHeapPrune.parse(r);
                RecordData.needBlocks(r, type, 0);
                byte[] d = RecordData.needBlock(r, type, 0, 2L * x.redirectedAndDeadOffsets());
                if (d != null && d.length % 2 != 0) {
                    throw RecordData.badBlock(r, type, 0, "of odd length " + d.length + " (offsets are u16)");
                }
            }
            case XLOG_HEAP2_VACUUM -> {
                XlHeapVacuum x = XlHeapVacuum.parse(r);
                RecordData.needBlocks(r, type, 0);
                RecordData.needBlock(r, type, 0, 2L * x.nunused());
            }
            case XLOG_HEAP2_FREEZE_PAGE -> {
                XlHeapFreezePage x = XlHeapFreezePage.parse(r);
                RecordData.needBlocks(r, type, 0);
                RecordData.needBlock(r, type, 0, (long) SIZE_OF_HEAP_FREEZE_TUPLE * x.ntuples());
            }
            case XLOG_HEAP2_VISIBLE -> {
                XlHeapVisible.parse(r);
                RecordData.needBlocks(r, type, 0, 1);
            }
            case XLOG_HEAP2_MULTI_INSERT -> {
                XlHeapMultiInsert x = XlHeapMultiInsert.parse(r);
                RecordData.needBlocks(r, type, 0);
                byte[] d = RecordData.redoData(r, 0);
                if (d != null) {
                    x.tupleStarts(r, d);
                }
            }
            case XLOG_HEAP2_LOCK_UPDATED -> {
                XlHeapLockUpdated.parse(r);
                RecordData.needBlocks(r, type, 0);
            }
            default -> XlHeapNewCid.parse(r); // XLOG_HEAP2_NEW_CID
        }
    }
}
