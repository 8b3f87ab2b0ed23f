package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.HeapXlog.XlHeapFreezePage;
import org.pageserver.redo.HeapXlog.XlHeapLockUpdated;
import org.pageserver.redo.HeapXlog.XlHeapMultiInsert;
import org.pageserver.redo.HeapXlog.XlHeapPrune;
import org.pageserver.redo.HeapXlog.XlHeapVisible;

/**
 * Redo of RM_HEAP2_ID records (heapam.c heap2_redo, PG15), one block at a time. The records' main
 * data is read through {@link HeapXlog}. XLOG_HEAP2_NEW_CID and XLOG_HEAP2_REWRITE register no
 * block: they are for logical decoding (a standby's heap_xlog_logical_rewrite writes a
 * pg_logical/mappings file, not a page).
 */
final class Heap2Redo {
    private Heap2Redo() {
    }

    /** Returns false when the page's LSN must stay as it was. */
    static boolean redo(WalRecord r, int blockId, byte[] page, boolean hintsLogged) {
        int info = HeapXlog.opcode(r);
        switch (info) {
            case HeapXlog.XLOG_HEAP2_PRUNE -> prune(r, page);
            case HeapXlog.XLOG_HEAP2_VACUUM -> vacuum(r, page);
            case HeapXlog.XLOG_HEAP2_FREEZE_PAGE -> freeze(r, page);
            case HeapXlog.XLOG_HEAP2_VISIBLE -> {
                return visible(r, blockId, page, hintsLogged);
            }
            case HeapXlog.XLOG_HEAP2_MULTI_INSERT -> multiInsert(r, page);
            case HeapXlog.XLOG_HEAP2_LOCK_UPDATED -> lockUpdated(r, page);
            default -> throw new RedoException("heap2 record 0x" + Integer.toHexString(info) + " touches no page",
                r.startLsn());
        }
        return true;
    }

    /** Mirrors heap_xlog_prune + heap_page_prune_execute. */
    static void prune(WalRecord r, byte[] page) {
        XlHeapPrune x = XlHeapPrune.parse(r);
        int nredirected = x.nredirected();
        int ndead = x.ndead();
        byte[] d = r.block(0).data();
        int len = d == null ? 0 : d.length;
        if (len < x.redirectedAndDeadOffsets() * 2 || len % 2 != 0) {
            throw new RedoException("heap_xlog_prune: block data too short", r.startLsn());
        }
        int nunused = len / 2 - nredirected * 2 - ndead;
        int pos = 0;
        int max = Page.maxOffsetNumber(page);
        for (int i = 0; i < nredirected; i++) {
            int from = Page.u16(d, pos);
            int to = Page.u16(d, pos + 2);
            pos += 4;
            checkOffset(r, from, max);
            Page.setItemId(page, from, to, Page.LP_REDIRECT, 0);
        }
        for (int i = 0; i < ndead; i++) {
            int off = Page.u16(d, pos);
            pos += 2;
            checkOffset(r, off, max);
            Page.setItemId(page, off, 0, Page.LP_DEAD, 0);
        }
        for (int i = 0; i < nunused; i++) {
            int off = Page.u16(d, pos);
            pos += 2;
            checkOffset(r, off, max);
            Page.setItemId(page, off, 0, Page.LP_UNUSED, 0);
        }
        repair(r, page);
    }

    static void repair(WalRecord r, byte[] page) {
        try {
            Page.repairFragmentation(page);
        } catch (IllegalStateException e) {
            throw new RedoException(e.getMessage(), r.startLsn());
        }
    }

    static void checkOffset(WalRecord r, int off, int max) {
        if (off < 1 || off > max) {
            throw new RedoException("invalid offset number " + off + " (page has " + max + ")", r.startLsn());
        }
    }

    /** Mirrors heap_xlog_vacuum (PG15): dead line pointers made unused, the array truncated. */
    static void vacuum(WalRecord r, byte[] page) {
        int nunused = HeapXlog.XlHeapVacuum.parse(r).nunused();
        byte[] d = r.block(0).data();
        if (nunused > 0) {
            WalRedo.need(r, d, 2 * nunused);
        }
        int max = Page.maxOffsetNumber(page);
        for (int i = 0; i < nunused; i++) {
            int off = Page.u16(d, 2 * i);
            checkOffset(r, off, max);
            Page.setItemId(page, off, 0, Page.LP_UNUSED, 0);
        }
        Page.truncateLinePointerArray(page);
    }

    /** Mirrors heap_xlog_freeze_page + heap_execute_freeze_tuple. */
    static void freeze(WalRecord r, byte[] page) {
        int ntuples = XlHeapFreezePage.parse(r).ntuples();
        byte[] d = r.block(0).data();
        if (d == null || d.length < ntuples * HeapXlog.SIZE_OF_HEAP_FREEZE_TUPLE) {
            throw new RedoException("heap_xlog_freeze_page: block data too short", r.startLsn());
        }
        for (int i = 0; i < ntuples; i++) {
            int f = i * HeapXlog.SIZE_OF_HEAP_FREEZE_TUPLE;
            int xmax = Page.u32(d, f);
            int off = Page.u16(d, f + 4);
            int t = HeapRedo.tupleOffset(r, page, off);
            int frzflags = d[f + 10] & 0xFF;
            HeapTuple.setXmax(page, t, xmax);
            if ((frzflags & HeapXlog.XLH_FREEZE_XVAC) != 0) {
                HeapTuple.setXvac(page, t, Xid.FROZEN);
            }
            if ((frzflags & HeapXlog.XLH_INVALID_XVAC) != 0) {
                HeapTuple.setXvac(page, t, Xid.INVALID);
            }
            HeapTuple.setInfomask(page, t, Page.u16(d, f + 8));
            HeapTuple.setInfomask2(page, t, Page.u16(d, f + 6));
        }
    }

    /**
     * Mirrors heap_xlog_visible: block 1 (the heap page) gets PD_ALL_VISIBLE (and the record's
     * LSN only when hint bits are WAL-logged); block 0 (the VM page) gets the bits of that heap
     * block, and the LSN when they changed (visibilitymap_set).
     */
    static boolean visible(WalRecord r, int blockId, byte[] page, boolean hintsLogged) {
        int flags = XlHeapVisible.parse(r).flags();
        if (blockId == 1) {
            Page.setAllVisible(page);
            return hintsLogged;
        }
        BlockRef heap = r.block(1);
        if (heap == null) {
            throw new RedoException("heap_xlog_visible without a heap block", r.startLsn());
        }
        if (Page.isNew(page)) {
            Page.init(page, 0);
        }
        return VisibilityMap.set(page, heap.blkno(), flags);
    }

    /** Mirrors heap_xlog_multi_insert. */
    static void multiInsert(WalRecord r, byte[] page) {
        XlHeapMultiInsert x = XlHeapMultiInsert.parse(r);
        if ((r.rmgrInfo() & HeapXlog.XLOG_HEAP_INIT_PAGE) != 0) {
            Page.init(page, 0);
        }
        BlockRef b = r.block(0);
        byte[] d = b.data();
        if (d == null) {
            throw new RedoException("heap_xlog_multi_insert without tuple data", r.startLsn());
        }
        int[] starts = x.tupleStarts(r, d);
        for (int i = 0; i < x.ntuples(); i++) {
            int offnum = x.offsets()[i];
            if (Page.maxOffsetNumber(page) + 1 < offnum) {
                throw new RedoException("heap_xlog_multi_insert: invalid max offset number", r.startLsn());
            }
            int pos = starts[i];
            int datalen = Page.u16(d, pos);
            byte[] t = new byte[HeapTuple.SIZEOF_HEAP_TUPLE_HEADER + datalen];
            System.arraycopy(d, pos + HeapXlog.SIZE_OF_MULTI_INSERT_TUPLE, t, HeapTuple.SIZEOF_HEAP_TUPLE_HEADER, datalen);
            // xl_multi_insert_tuple: datalen u16, then the fields of an xl_heap_header
            HeapXlog.XlHeapHeader hdr = HeapXlog.XlHeapHeader.parse(d, pos + 2);
            Page.put16(t, HeapTuple.INFOMASK2, hdr.infomask2());
            Page.put16(t, HeapTuple.INFOMASK, hdr.infomask());
            t[HeapTuple.HOFF] = (byte) hdr.hoff();
            HeapTuple.setXmin(t, 0, r.xid());
            HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
            HeapTuple.setCtid(t, 0, b.blkno(), offnum);
            if (Page.addItem(page, t, 0, t.length, offnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != offnum) {
                throw new RedoException("heap_xlog_multi_insert: failed to add tuple", r.startLsn());
            }
        }
        if ((x.flags() & HeapXlog.XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((x.flags() & HeapXlog.XLH_INSERT_ALL_FROZEN_SET) != 0) {
            Page.setAllVisible(page);
        }
    }

    /** Mirrors heap_xlog_lock_updated. */
    static void lockUpdated(WalRecord r, byte[] page) {
        XlHeapLockUpdated x = XlHeapLockUpdated.parse(r);
        int t = HeapRedo.tupleOffset(r, page, x.offnum());
        HeapTuple.clearXmaxBits(page, t);
        HeapTuple.fixInfomaskFromInfobits(page, t, x.infobitsSet());
        HeapTuple.setXmax(page, t, x.xmax());
    }
}
