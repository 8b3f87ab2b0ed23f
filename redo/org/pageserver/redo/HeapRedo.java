package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Redo of RM_HEAP_ID records (heapam.c heap_redo, PG15), one block at a time. Layouts from
 * access/heapam_xlog.h (PG15):
 *
 * <pre>
 * xl_heap_insert  offnum u16, flags u8                                  (SizeOfHeapInsert 3)
 * xl_heap_delete  xmax u32, offnum u16, infobits_set u8, flags u8        (SizeOfHeapDelete 8)
 * xl_heap_update  old_xmax u32, old_offnum u16, old_infobits_set u8, flags u8,
 *                 new_xmax u32, new_offnum u16                           (SizeOfHeapUpdate 14)
 * xl_heap_lock    locking_xid u32, offnum u16, infobits_set u8, flags u8 (SizeOfHeapLock 8)
 * xl_heap_confirm offnum u16;  xl_heap_inplace offnum u16
 * xl_heap_header  t_infomask2 u16, t_infomask u16, t_hoff u8             (SizeOfHeapHeader 5)
 * </pre>
 */
final class HeapRedo {
    static final int XLOG_HEAP_INSERT = 0x00;
    static final int XLOG_HEAP_DELETE = 0x10;
    static final int XLOG_HEAP_UPDATE = 0x20;
    static final int XLOG_HEAP_TRUNCATE = 0x30;
    static final int XLOG_HEAP_HOT_UPDATE = 0x40;
    static final int XLOG_HEAP_CONFIRM = 0x50;
    static final int XLOG_HEAP_LOCK = 0x60;
    static final int XLOG_HEAP_INPLACE = 0x70;
    static final int XLOG_HEAP_OPMASK = 0x70;
    static final int XLOG_HEAP_INIT_PAGE = 0x80;

    static final int XLH_INSERT_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_INSERT_ALL_FROZEN_SET = 1 << 5;
    static final int XLH_DELETE_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_DELETE_IS_SUPER = 1 << 3;
    static final int XLH_DELETE_IS_PARTITION_MOVE = 1 << 4;
    static final int XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED = 1;
    static final int XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED = 1 << 1;
    static final int XLH_UPDATE_PREFIX_FROM_OLD = 1 << 5;
    static final int XLH_UPDATE_SUFFIX_FROM_OLD = 1 << 6;
    static final int XLH_LOCK_ALL_FROZEN_CLEARED = 1;
    static final int SIZE_OF_HEAP_HEADER = 5;

    private HeapRedo() {
    }

    static boolean canRedo(int info) {
        return true;
    }

    static void redo(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        switch (info & XLOG_HEAP_OPMASK) {
            case XLOG_HEAP_INSERT -> insert(r, blockId, page);
            case XLOG_HEAP_DELETE -> delete(r, page);
            case XLOG_HEAP_UPDATE -> update(r, blockId, page, false);
            case XLOG_HEAP_HOT_UPDATE -> update(r, blockId, page, true);
            case XLOG_HEAP_CONFIRM -> confirm(r, blockId, page);
            case XLOG_HEAP_LOCK -> lock(r, blockId, page);
            case XLOG_HEAP_INPLACE -> inplace(r, page);
            default -> throw new RedoException("heap record 0x" + Integer.toHexString(info) + " touches no page", r.startLsn());
        }
    }

    /** Mirrors heap_xlog_insert. */
    static void insert(WalRecord r, int blockId, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 3);
        int offnum = Page.u16(m, 0);
        int flags = m[2] & 0xFF;
        BlockRef b = r.block(blockId);
        if ((r.rmgrInfo() & XLOG_HEAP_INIT_PAGE) != 0) {
            Page.init(page, 0);
        }
        if (Page.maxOffsetNumber(page) + 1 < offnum) {
            throw new RedoException("heap_xlog_insert: invalid max offset number", r.startLsn());
        }
        byte[] data = b.data();
        WalRedo.need(r, data, SIZE_OF_HEAP_HEADER);
        byte[] tuple = newTuple(data, 0, data.length, r.xid());
        setCtid(tuple, b.blkno(), offnum);
        if (Page.addItem(page, tuple, 0, tuple.length, offnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != offnum) {
            throw new RedoException("heap_xlog_insert: failed to add tuple", r.startLsn());
        }
        if ((flags & XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((flags & XLH_INSERT_ALL_FROZEN_SET) != 0) {
            Page.setAllVisible(page);
        }
    }

    /** A new tuple from xl_heap_header + data: header zeroed, xmin = the record's xid, cmin 0. */
    static byte[] newTuple(byte[] data, int off, int len, int xid) {
        int dataLen = len - SIZE_OF_HEAP_HEADER;
        byte[] t = new byte[HeapTuple.SIZEOF_HEAP_TUPLE_HEADER + dataLen];
        System.arraycopy(data, off + SIZE_OF_HEAP_HEADER, t, HeapTuple.SIZEOF_HEAP_TUPLE_HEADER, dataLen);
        Page.put16(t, HeapTuple.INFOMASK2, Page.u16(data, off));
        Page.put16(t, HeapTuple.INFOMASK, Page.u16(data, off + 2));
        t[HeapTuple.HOFF] = data[off + 4];
        HeapTuple.setXmin(t, 0, xid);
        HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
        return t;
    }

    static void setCtid(byte[] tuple, int blkno, int offnum) {
        HeapTuple.setCtid(tuple, 0, blkno, offnum);
    }

    /** Mirrors heap_xlog_delete. */
    static void delete(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 8);
        int xmax = Page.u32(m, 0);
        int offnum = Page.u16(m, 4);
        int infobits = m[6] & 0xFF;
        int flags = m[7] & 0xFF;
        int t = tupleOffset(r, page, offnum);
        HeapTuple.clearXmaxBits(page, t);
        HeapTuple.setInfomask2(page, t, HeapTuple.infomask2(page, t) & ~HeapTuple.HEAP_HOT_UPDATED);
        HeapTuple.fixInfomaskFromInfobits(page, t, infobits);
        if ((flags & XLH_DELETE_IS_SUPER) == 0) {
            HeapTuple.setXmax(page, t, xmax);
        } else {
            HeapTuple.setXmin(page, t, Xid.INVALID);
        }
        HeapTuple.setCmax(page, t, HeapTuple.FIRST_COMMAND_ID);
        Page.setPrunable(page, r.xid());
        if ((flags & XLH_DELETE_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((flags & XLH_DELETE_IS_PARTITION_MOVE) != 0) {
            HeapTuple.setCtid(page, t, -1, HeapTuple.MOVED_PARTITIONS_OFFSET);
        } else {
            HeapTuple.setCtid(page, t, r.block(0).blkno(), offnum);
        }
    }

    static int tupleOffset(WalRecord r, byte[] page, int offnum) {
        try {
            return Page.itemOffset(page, offnum);
        } catch (IllegalStateException e) {
            throw new RedoException("heap redo: " + e.getMessage(), r.startLsn());
        }
    }

    /**
     * Mirrors heap_xlog_update: block 0 is the new tuple's page, block 1 the old one's when it
     * differs. Rebuilding block 1 does the old-tuple half; rebuilding block 0 does the new-tuple
     * half, preceded by the old-tuple half when both are on the same page.
     */
    static void update(WalRecord r, int blockId, byte[] page, boolean hot) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 14);
        int oldXmax = Page.u32(m, 0);
        int oldOffnum = Page.u16(m, 4);
        int oldInfobits = m[6] & 0xFF;
        int flags = m[7] & 0xFF;
        int newXmax = Page.u32(m, 8);
        int newOffnum = Page.u16(m, 12);
        BlockRef newBlock = r.block(0);
        boolean samePage = r.block(1) == null;

        int oldTupleOff = -1;
        int oldTupleLen = 0;
        if (blockId == 1 || samePage) {
            int t = tupleOffset(r, page, oldOffnum);
            oldTupleOff = t;
            oldTupleLen = Page.itemLength(page, oldOffnum);
            HeapTuple.clearXmaxBits(page, t);
            int m2 = HeapTuple.infomask2(page, t);
            HeapTuple.setInfomask2(page, t, hot ? m2 | HeapTuple.HEAP_HOT_UPDATED : m2 & ~HeapTuple.HEAP_HOT_UPDATED);
            HeapTuple.fixInfomaskFromInfobits(page, t, oldInfobits);
            HeapTuple.setXmax(page, t, oldXmax);
            HeapTuple.setCmax(page, t, HeapTuple.FIRST_COMMAND_ID);
            HeapTuple.setCtid(page, t, newBlock.blkno(), newOffnum);
            Page.setPrunable(page, r.xid());
            if ((flags & XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) != 0) {
                Page.clearAllVisible(page);
            }
            if (blockId == 1) {
                return;
            }
        }
        // the new tuple
        if (!samePage && (r.rmgrInfo() & XLOG_HEAP_INIT_PAGE) != 0) {
            Page.init(page, 0);
        }
        if (Page.maxOffsetNumber(page) + 1 < newOffnum) {
            throw new RedoException("heap_xlog_update: invalid max offset number", r.startLsn());
        }
        byte[] data = newBlock.data();
        WalRedo.need(r, data, SIZE_OF_HEAP_HEADER);
        int pos = 0;
        int prefixLen = 0;
        int suffixLen = 0;
        if ((flags & XLH_UPDATE_PREFIX_FROM_OLD) != 0) {
            prefixLen = Page.u16(data, pos);
            pos += 2;
        }
        if ((flags & XLH_UPDATE_SUFFIX_FROM_OLD) != 0) {
            suffixLen = Page.u16(data, pos);
            pos += 2;
        }
        if ((prefixLen > 0 || suffixLen > 0) && oldTupleOff < 0) {
            throw new RedoException("heap_xlog_update: prefix/suffix from an old tuple on another page", r.startLsn());
        }
        WalRedo.need(r, data, pos + SIZE_OF_HEAP_HEADER);
        int hdr = pos;
        pos += SIZE_OF_HEAP_HEADER;
        int tuplen = data.length - pos;
        int hoff = data[hdr + 4] & 0xFF;
        int newLen = HeapTuple.SIZEOF_HEAP_TUPLE_HEADER + tuplen + prefixLen + suffixLen;
        byte[] t = new byte[newLen];
        int np = HeapTuple.SIZEOF_HEAP_TUPLE_HEADER;
        if (prefixLen > 0) {
            int bitmapLen = hoff - HeapTuple.SIZEOF_HEAP_TUPLE_HEADER;
            if (bitmapLen < 0 || bitmapLen > tuplen) {
                throw new RedoException("heap_xlog_update: invalid t_hoff " + hoff, r.startLsn());
            }
            System.arraycopy(data, pos, t, np, bitmapLen);
            pos += bitmapLen;
            np += bitmapLen;
            int oldHoff = HeapTuple.hoff(page, oldTupleOff);
            System.arraycopy(page, oldTupleOff + oldHoff, t, np, prefixLen);
            np += prefixLen;
            int rest = tuplen - bitmapLen;
            System.arraycopy(data, pos, t, np, rest);
            np += rest;
        } else {
            System.arraycopy(data, pos, t, np, tuplen);
            np += tuplen;
        }
        if (suffixLen > 0) {
            System.arraycopy(page, oldTupleOff + oldTupleLen - suffixLen, t, np, suffixLen);
        }
        Page.put16(t, HeapTuple.INFOMASK2, Page.u16(data, hdr));
        Page.put16(t, HeapTuple.INFOMASK, Page.u16(data, hdr + 2));
        t[HeapTuple.HOFF] = (byte) hoff;
        HeapTuple.setXmin(t, 0, r.xid());
        HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
        HeapTuple.setXmax(t, 0, newXmax);
        HeapTuple.setCtid(t, 0, newBlock.blkno(), newOffnum);
        if (Page.addItem(page, t, 0, newLen, newOffnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != newOffnum) {
            throw new RedoException("heap_xlog_update: failed to add tuple", r.startLsn());
        }
        if ((flags & XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
    }

    /** Mirrors heap_xlog_confirm: the speculative insertion token replaced by the tuple's own TID. */
    static void confirm(WalRecord r, int blockId, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 2);
        int offnum = Page.u16(m, 0);
        int t = tupleOffset(r, page, offnum);
        HeapTuple.setCtid(page, t, r.block(blockId).blkno(), offnum);
    }

    /** Mirrors heap_xlog_lock. */
    static void lock(WalRecord r, int blockId, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 8);
        int xid = Page.u32(m, 0);
        int offnum = Page.u16(m, 4);
        int infobits = m[6] & 0xFF;
        int t = tupleOffset(r, page, offnum);
        HeapTuple.clearXmaxBits(page, t);
        HeapTuple.fixInfomaskFromInfobits(page, t, infobits);
        if (HeapTuple.xmaxIsLockedOnly(HeapTuple.infomask(page, t))) {
            HeapTuple.setInfomask2(page, t, HeapTuple.infomask2(page, t) & ~HeapTuple.HEAP_HOT_UPDATED);
            HeapTuple.setCtid(page, t, r.block(blockId).blkno(), offnum);
        }
        HeapTuple.setXmax(page, t, xid);
        HeapTuple.setCmax(page, t, HeapTuple.FIRST_COMMAND_ID);
    }

    /** Mirrors heap_xlog_inplace: the tuple's data overwritten, same length. */
    static void inplace(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 2);
        int offnum = Page.u16(m, 0);
        int t = tupleOffset(r, page, offnum);
        byte[] data = r.block(0).data();
        int hoff = HeapTuple.hoff(page, t);
        int oldLen = Page.itemLength(page, offnum) - hoff;
        if (data == null || oldLen != data.length) {
            throw new RedoException("heap_xlog_inplace: wrong tuple length", r.startLsn());
        }
        System.arraycopy(data, 0, page, t + hoff, data.length);
    }
}
