package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.HeapXlog.XlHeapConfirm;
import org.pageserver.redo.HeapXlog.XlHeapDelete;
import org.pageserver.redo.HeapXlog.XlHeapHeader;
import org.pageserver.redo.HeapXlog.XlHeapInplace;
import org.pageserver.redo.HeapXlog.XlHeapInsert;
import org.pageserver.redo.HeapXlog.XlHeapLock;
import org.pageserver.redo.HeapXlog.XlHeapUpdate;

/**
 * Redo of RM_HEAP_ID records (heapam.c heap_redo, PG15), one block at a time. The records' main
 * data is read through {@link HeapXlog}. XLOG_HEAP_TRUNCATE changes no page (its relations'
 * files are truncated by the Storage records logged with it); the old tuple a logical-level
 * primary logs with a delete or update is for logical decoding only, as in heap_redo.
 */
final class HeapRedo {
    private HeapRedo() {
    }

    static void redo(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        switch (info & HeapXlog.XLOG_HEAP_OPMASK) {
            case HeapXlog.XLOG_HEAP_INSERT -> insert(r, blockId, page);
            case HeapXlog.XLOG_HEAP_DELETE -> delete(r, page);
            case HeapXlog.XLOG_HEAP_UPDATE -> update(r, blockId, page, false);
            case HeapXlog.XLOG_HEAP_HOT_UPDATE -> update(r, blockId, page, true);
            case HeapXlog.XLOG_HEAP_CONFIRM -> confirm(r, blockId, page);
            case HeapXlog.XLOG_HEAP_LOCK -> lock(r, blockId, page);
            case HeapXlog.XLOG_HEAP_INPLACE -> inplace(r, page);
            default -> throw new RedoException("heap record 0x" + Integer.toHexString(info) + " touches no page", r.startLsn());
        }
    }

    /** Mirrors heap_xlog_insert. */
    static void insert(WalRecord r, int blockId, byte[] page) {
        XlHeapInsert x = XlHeapInsert.parse(r);
        int offnum = x.offnum();
        int flags = x.flags();
        BlockRef b = r.block(blockId);
        if ((r.rmgrInfo() & HeapXlog.XLOG_HEAP_INIT_PAGE) != 0) {
            Page.init(page, 0);
        }
        if (Page.maxOffsetNumber(page) + 1 < offnum) {
            throw new RedoException("heap_xlog_insert: invalid max offset number", r.startLsn());
        }
        byte[] data = b.data();
        WalRedo.need(r, data, HeapXlog.SIZE_OF_HEAP_HEADER);
        byte[] tuple = newTuple(data, 0, data.length, r.xid());
        setCtid(tuple, b.blkno(), offnum);
        if (Page.addItem(page, tuple, 0, tuple.length, offnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != offnum) {
            throw new RedoException("heap_xlog_insert: failed to add tuple", r.startLsn());
        }
        if ((flags & HeapXlog.XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((flags & HeapXlog.XLH_INSERT_ALL_FROZEN_SET) != 0) {
            Page.setAllVisible(page);
        }
    }

    /** A new tuple from xl_heap_header + data: header zeroed, xmin = the record's xid, cmin 0. */
    static byte[] newTuple(byte[] data, int off, int len, int xid) {
        int dataLen = len - HeapXlog.SIZE_OF_HEAP_HEADER;
        byte[] t = new byte[HeapTuple.SIZEOF_HEAP_TUPLE_HEADER + dataLen];
        System.arraycopy(data, off + HeapXlog.SIZE_OF_HEAP_HEADER, t, HeapTuple.SIZEOF_HEAP_TUPLE_HEADER, dataLen);
        XlHeapHeader hdr = XlHeapHeader.parse(data, off);
        Page.put16(t, HeapTuple.INFOMASK2, hdr.infomask2());
        Page.put16(t, HeapTuple.INFOMASK, hdr.infomask());
        t[HeapTuple.HOFF] = (byte) hdr.hoff();
        HeapTuple.setXmin(t, 0, xid);
        HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
        return t;
    }

    static void setCtid(byte[] tuple, int blkno, int offnum) {
        HeapTuple.setCtid(tuple, 0, blkno, offnum);
    }

    /** Mirrors heap_xlog_delete. */
    static void delete(WalRecord r, byte[] page) {
        XlHeapDelete x = XlHeapDelete.parse(r);
        int xmax = x.xmax();
        int offnum = x.offnum();
        int infobits = x.infobitsSet();
        int flags = x.flags();
        int t = tupleOffset(r, page, offnum);
        HeapTuple.clearXmaxBits(page, t);
        HeapTuple.setInfomask2(page, t, HeapTuple.infomask2(page, t) & ~HeapTuple.HEAP_HOT_UPDATED);
        HeapTuple.fixInfomaskFromInfobits(page, t, infobits);
        if ((flags & HeapXlog.XLH_DELETE_IS_SUPER) == 0) {
            HeapTuple.setXmax(page, t, xmax);
        } else {
            HeapTuple.setXmin(page, t, Xid.INVALID);
        }
        HeapTuple.setCmax(page, t, HeapTuple.FIRST_COMMAND_ID);
        Page.setPrunable(page, r.xid());
        if ((flags & HeapXlog.XLH_DELETE_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
        if ((flags & HeapXlog.XLH_DELETE_IS_PARTITION_MOVE) != 0) {
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
        XlHeapUpdate x = XlHeapUpdate.parse(r);
        int oldOffnum = x.oldOffnum();
        int flags = x.flags();
        int newOffnum = x.newOffnum();
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
            HeapTuple.fixInfomaskFromInfobits(page, t, x.oldInfobitsSet());
            HeapTuple.setXmax(page, t, x.oldXmax());
            HeapTuple.setCmax(page, t, HeapTuple.FIRST_COMMAND_ID);
            HeapTuple.setCtid(page, t, newBlock.blkno(), newOffnum);
            Page.setPrunable(page, r.xid());
            if ((flags & HeapXlog.XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) != 0) {
                Page.clearAllVisible(page);
            }
            if (blockId == 1) {
                return;
            }
        }
        // the new tuple
        if (!samePage && (r.rmgrInfo() & HeapXlog.XLOG_HEAP_INIT_PAGE) != 0) {
            Page.init(page, 0);
        }
        if (Page.maxOffsetNumber(page) + 1 < newOffnum) {
            throw new RedoException("heap_xlog_update: invalid max offset number", r.startLsn());
        }
        byte[] data = newBlock.data();
        WalRedo.need(r, data, HeapXlog.SIZE_OF_HEAP_HEADER);
        int pos = 0;
        int prefixLen = 0;
        int suffixLen = 0;
        if (x.prefixFromOld()) {
            prefixLen = Page.u16(data, pos);
            pos += 2;
        }
        if (x.suffixFromOld()) {
            suffixLen = Page.u16(data, pos);
            pos += 2;
        }
        if ((prefixLen > 0 || suffixLen > 0) && oldTupleOff < 0) {
            throw new RedoException("heap_xlog_update: prefix/suffix from an old tuple on another page", r.startLsn());
        }
        WalRedo.need(r, data, pos + HeapXlog.SIZE_OF_HEAP_HEADER);
        XlHeapHeader hdr = XlHeapHeader.parse(data, pos);
        pos += HeapXlog.SIZE_OF_HEAP_HEADER;
        int tuplen = data.length - pos;
        int hoff = hdr.hoff();
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
        Page.put16(t, HeapTuple.INFOMASK2, hdr.infomask2());
        Page.put16(t, HeapTuple.INFOMASK, hdr.infomask());
        t[HeapTuple.HOFF] = (byte) hoff;
        HeapTuple.setXmin(t, 0, r.xid());
        HeapTuple.setCmin(t, 0, HeapTuple.FIRST_COMMAND_ID);
        HeapTuple.setXmax(t, 0, x.newXmax());
        HeapTuple.setCtid(t, 0, newBlock.blkno(), newOffnum);
        if (Page.addItem(page, t, 0, newLen, newOffnum, Page.PAI_OVERWRITE | Page.PAI_IS_HEAP) != newOffnum) {
            throw new RedoException("heap_xlog_update: failed to add tuple", r.startLsn());
        }
        if ((flags & HeapXlog.XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) != 0) {
            Page.clearAllVisible(page);
        }
    }

    /** Mirrors heap_xlog_confirm: the speculative insertion token replaced by the tuple's own TID. */
    static void confirm(WalRecord r, int blockId, byte[] page) {
        int offnum = XlHeapConfirm.parse(r).offnum();
        int t = tupleOffset(r, page, offnum);
        HeapTuple.setCtid(page, t, r.block(blockId).blkno(), offnum);
    }

    /** Mirrors heap_xlog_lock. */
    static void lock(WalRecord r, int blockId, byte[] page) {
        XlHeapLock x = XlHeapLock.parse(r);
        int xid = x.lockingXid();
        int offnum = x.offnum();
        int infobits = x.infobitsSet();
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
        int offnum = XlHeapInplace.parse(r).offnum();
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
