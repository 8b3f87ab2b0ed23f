package org.pageserver.redo;

/**
 * HeapTupleHeaderData (access/htup_details.h) fields on a page, and the infomask rules the heap
 * redo routines apply.
 *
 * <pre>
 *  0 t_xmin u32   4 t_xmax u32   8 t_cid / t_xvac u32
 * 12 t_ctid: bi_hi u16, bi_lo u16, ip_posid u16
 * 18 t_infomask2 u16   20 t_infomask u16   22 t_hoff u8   23 t_bits...
 * </pre>
 */
final class HeapTuple {
    static final int SIZEOF_HEAP_TUPLE_HEADER = 23;
    static final int XMIN = 0;
    static final int XMAX = 4;
    static final int FIELD3 = 8;
    static final int CTID = 12;
    static final int INFOMASK2 = 18;
    static final int INFOMASK = 20;
    static final int HOFF = 22;

    static final int HEAP_XMAX_KEYSHR_LOCK = 0x0010;
    static final int HEAP_COMBOCID = 0x0020;
    static final int HEAP_XMAX_EXCL_LOCK = 0x0040;
    static final int HEAP_XMAX_LOCK_ONLY = 0x0080;
    static final int HEAP_LOCK_MASK = 0x0050;
    static final int HEAP_XMAX_COMMITTED = 0x0400;
    static final int HEAP_XMAX_INVALID = 0x0800;
    static final int HEAP_XMAX_IS_MULTI = 0x1000;
    static final int HEAP_MOVED = 0xC000;
    static final int HEAP_XMAX_BITS = HEAP_XMAX_COMMITTED | HEAP_XMAX_INVALID | HEAP_XMAX_IS_MULTI | HEAP_LOCK_MASK
        | HEAP_XMAX_LOCK_ONLY;
    static final int HEAP_KEYS_UPDATED = 0x2000;
    static final int HEAP_HOT_UPDATED = 0x4000;

    /** FirstCommandId. */
    static final int FIRST_COMMAND_ID = 0;
    /** MovedPartitionsOffsetNumber / MovedPartitionsBlockNumber. */
    static final int MOVED_PARTITIONS_OFFSET = 0xFFFD;

    private HeapTuple() {
    }

    static int infomask(byte[] p, int t) {
        return Page.u16(p, t + INFOMASK);
    }

    static void setInfomask(byte[] p, int t, int v) {
        Page.put16(p, t + INFOMASK, v);
    }

    static int infomask2(byte[] p, int t) {
        return Page.u16(p, t + INFOMASK2);
    }

    static void setInfomask2(byte[] p, int t, int v) {
        Page.put16(p, t + INFOMASK2, v);
    }

    static void setXmin(byte[] p, int t, int xid) {
        Page.put32(p, t + XMIN, xid);
    }

    static void setXmax(byte[] p, int t, int xid) {
        Page.put32(p, t + XMAX, xid);
    }

    static void setXvac(byte[] p, int t, int xid) {
        Page.put32(p, t + FIELD3, xid);
    }

    /** HeapTupleHeaderSetCmin: also clears HEAP_COMBOCID. */
    static void setCmin(byte[] p, int t, int cid) {
        Page.put32(p, t + FIELD3, cid);
        setInfomask(p, t, infomask(p, t) & ~HEAP_COMBOCID);
    }

    /** HeapTupleHeaderSetCmax(tup, cid, false). */
    static void setCmax(byte[] p, int t, int cid) {
        Page.put32(p, t + FIELD3, cid);
        setInfomask(p, t, infomask(p, t) & ~HEAP_COMBOCID);
    }

    static void setCtid(byte[] p, int t, int blkno, int offnum) {
        Page.put16(p, t + CTID, blkno >>> 16);
        Page.put16(p, t + CTID + 2, blkno);
        Page.put16(p, t + CTID + 4, offnum);
    }

    static int hoff(byte[] p, int t) {
        return p[t + HOFF] & 0xFF;
    }

    /** fix_infomask_from_infobits (heapam.c): the infobits_set of a heap record (HeapXlog.XLHL_*). */
    static void fixInfomaskFromInfobits(byte[] p, int t, int infobits) {
        int m = infomask(p, t) & ~(HEAP_XMAX_IS_MULTI | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_EXCL_LOCK);
        int m2 = infomask2(p, t) & ~HEAP_KEYS_UPDATED;
        if ((infobits & HeapXlog.XLHL_XMAX_IS_MULTI) != 0) {
            m |= HEAP_XMAX_IS_MULTI;
        }
        if ((infobits & HeapXlog.XLHL_XMAX_LOCK_ONLY) != 0) {
            m |= HEAP_XMAX_LOCK_ONLY;
        }
        if ((infobits & HeapXlog.XLHL_XMAX_EXCL_LOCK) != 0) {
            m |= HEAP_XMAX_EXCL_LOCK;
        }
        if ((infobits & HeapXlog.XLHL_XMAX_KEYSHR_LOCK) != 0) {
            m |= HEAP_XMAX_KEYSHR_LOCK;
        }
        if ((infobits & HeapXlog.XLHL_KEYS_UPDATED) != 0) {
            m2 |= HEAP_KEYS_UPDATED;
        }
        setInfomask(p, t, m);
        setInfomask2(p, t, m2);
    }

    /** The xmax bits and moved bits cleared, keys-updated cleared: the start of every xmax change. */
    static void clearXmaxBits(byte[] p, int t) {
        setInfomask(p, t, infomask(p, t) & ~(HEAP_XMAX_BITS | HEAP_MOVED));
        setInfomask2(p, t, infomask2(p, t) & ~HEAP_KEYS_UPDATED);
    }

    static boolean xmaxIsLockedOnly(int infomask) {
        return (infomask & HEAP_XMAX_LOCK_ONLY) != 0
            || (infomask & (HEAP_XMAX_IS_MULTI | HEAP_LOCK_MASK)) == HEAP_XMAX_EXCL_LOCK;
    }
}
