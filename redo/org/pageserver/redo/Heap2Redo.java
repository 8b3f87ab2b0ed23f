package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Redo of RM_HEAP2_ID records (heapam.c heap2_redo, PG15), one block at a time. Layouts from
 * access/heapam_xlog.h of PG15:
 *
 * <pre>
 * xl_heap_prune        latestRemovedXid u32, nredirected u16, ndead u16      (8)
 *                      block 0 data: redirected pairs u16[2n], dead u16[], unused u16[]
 * xl_heap_vacuum       nunused u16 (2); block 0 data: unused offsets u16[]
 * xl_heap_freeze_page  cutoff_xid u32, ntuples u16 (6); block 0 data:
 *                      xl_heap_freeze_tuple[] {xmax u32, offset u16, t_infomask2 u16,
 *                      t_infomask u16, frzflags u8, pad} (12 bytes each)
 * xl_heap_visible      cutoff_xid u32, flags u8 (5); block 0 = VM page, block 1 = heap page
 * xl_heap_multi_insert flags u8, pad, ntuples u16, offsets u16[] (absent with INIT_PAGE);
 *                      block 0 data: per tuple, SHORTALIGNed: xl_multi_insert_tuple
 *                      {datalen u16, t_infomask2 u16, t_infomask u16, t_hoff u8} + data
 * xl_heap_lock_updated xmax u32, offnum u16, infobits_set u8, flags u8     (8)
 * </pre>
 */
final class Heap2Redo {
    static final int XLOG_HEAP2_REWRITE = 0x00;
    static final int XLOG_HEAP2_PRUNE = 0x10;
    static final int XLOG_HEAP2_VACUUM = 0x20;
    static final int XLOG_HEAP2_FREEZE_PAGE = 0x30;
    static final int XLOG_HEAP2_VISIBLE = 0x40;
    static final int XLOG_HEAP2_MULTI_INSERT = 0x50;
    static final int XLOG_HEAP2_LOCK_UPDATED = 0x60;
    static final int XLOG_HEAP2_NEW_CID = 0x70;
    static final int XLH_FREEZE_XVAC = 0x02;
    static final int XLH_INVALID_XVAC = 0x04;

    private Heap2Redo() {
    }

    /** Returns false when the page's LSN must stay as it was. */
    static boolean redo(WalRecord r, int blockId, byte[] page, boolean hintsLogged) {
        int info = r.rmgrInfo() & HeapRedo.XLOG_HEAP_OPMASK;
        switch (info) {
            case XLOG_HEAP2_PRUNE -> prune(r, page);
            case XLOG_HEAP2_VACUUM -> vacuum(r, page);
            case XLOG_HEAP2_FREEZE_PAGE -> freeze(r, page);
            case XLOG_HEAP2_VISIBLE -> {
                return visible(r, blockId, page, hintsLogged);
            }
            case XLOG_HEAP2_MULTI_INSERT -> multiInsert(r, page);
            case XLOG_HEAP2_LOCK_UPDATED -> lockUpdated(r, page);
            default -> throw new RedoException("heap2 record 0x" + Integer.toHexString(info) + " touches no page",
                r.startLsn());
        }
        return true;
    }

    /** Mirrors heap_xlog_prune + heap_page_prune_execute. */
    static void prune(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 8);
        int nredirected = Page.u16(m, 4);
        int ndead = Page.u16(m, 6);
        byte[] d = r.block(0).data();
        int len = d == null ? 0 : d.length;
        if (len < (nredirected * 2 + ndead) * 2 || len % 2 != 0) {
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
        byte[] d = r.block(0).data();
        int len = d == null ? 0 : d.length;
        int max = Page.maxOffsetNumber(page);
        for (int pos = 0; pos + 1 < len; pos += 2) {
            int off = Page.u16(d, pos);
            checkOffset(r, off, max);
            Page.setItemId(page, off, 0, Page.LP_UNUSED, 0);
        }
        Page.truncateLinePointerArray(page);
    }

    /** Mirrors heap_xlog_freeze_page + heap_execute_freeze_tuple. */
    static void freeze(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 6);
        int ntuples = Page.u16(m, 4);
        byte[] d = r.block(0).data();
        if (d == null || d.length < ntuples * 12) {
            throw new RedoException("heap_xlog_freeze_page: block data too short", r.startLsn());
        }
        for (int i = 0; i < ntuples; i++) {
            int f = i * 12;
            int xmax = Page.u32(d, f);
            int off = Page.u16(d, f + 4);
            int t = HeapRedo.tupleOffset(r, page, off);
            int frzflags = d[f + 10] & 0xFF;
            HeapTuple.setXmax(page, t, xmax);
            if ((frzflags & XLH_FREEZE_XVAC) != 0) {
                HeapTuple.setXvac(page, t, Xid.FROZEN);
            }
            if ((frzflags & XLH_INVALID_XVAC) != 0) {
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
        byte[] m = r.mainData();
        WalRedo.need(r, m, 5);
        int flags = m[4] & 0xFF;
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
        byte[] m = r.mainData();
        WalRedo.need(r, m, 4);
        int flags = m[0] & 0xFF;
        int ntuples = Page.u16(m, 2);
        boolean isInit = (r.rmgrInfo() & HeapRedo.XLOG_HEAP_INIT_PAGE) != 0;
        if (!isInit) {
            WalRedo.need(r, m, 4 + 2 * ntuples);
        } else {
            Page.init(page, 0);
        }
        BlockRef b = r.block(0);
        byte[] d = b.data();
        if (d == null) {
            throw new RedoException("heap_xlog_multi_insert without tuple data", r.startLsn());
        }
        int pos = 0;
        for (int i = 0; i < ntuples; i++) {
            int offnum = isInit ? i + 1 : Page.u16(m, 4 + 2 * i);
            if (Page.maxOffsetNumber(page) + 1 < offnum) {
                throw new RedoException("heap_xlog_multi_insert: invalid max offset number", r.startLsn());
            }
            pos = Page.shortAlign(pos);
            if (pos + 7 > d.length) {
                throw new RedoException("heap_xlog_multi_insert: tuple data too short", r.startLsn());
            }
            int datalen = Page.u16(d, pos);
            if (pos + 7 + datalen > d.length) {
                throw new RedoException("heap_xlog_multi_insert: tuple data too short", r.startLsn());
            }
            byte[] t = new byte[HeapTuple.SIZEOF_HEAP_TUPLE_HEADER + datalen];
            System.arraycopy(d, pos + 7, t, HeapTuple.SIZEOF_HEAP_TUPLE_HEADER, datalen);
            Page.put16(t, HeapTuple.INFOMASK2, Page.u16(d, pos + 2));
            Page.put16(t, HeapTuple.INFOMASK, Page.u16(d, pos + 4));
            t[HeapTuple.HOFF] = d[pos + 6];
            HeapTuple.setXmin(t, 0, r.xid());
            HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
            HeapTuple.setCtid(t, 0, b.blkno(), offnum);
            pos += 7 + datalen;
            if (Page.addItem(page, t, 0, t.length, offnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != offnum) {
                throw new RedoException("heap_xlog_multi_insert: failed to add tuple", r.startLsn());
            }
        }
        if ((flags & HeapRedo.XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((flags & HeapRedo.XLH_INSERT_ALL_FROZEN_SET) != 0) {
            Page.setAllVisible(page);
        }
    }

    /** Mirrors heap_xlog_lock_updated. */
    static void lockUpdated(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 8);
        int xmax = Page.u32(m, 0);
        int offnum = Page.u16(m, 4);
        int infobits = m[6] & 0xFF;
        int t = HeapRedo.tupleOffset(r, page, offnum);
        HeapTuple.clearXmaxBits(page, t);
        HeapTuple.fixInfomaskFromInfobits(page, t, infobits);
        HeapTuple.setXmax(page, t, xmax);
    }
}
