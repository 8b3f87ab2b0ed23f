package org.pageserver.redo;

/**
 * The page primitives of bufpage.c / bufpage.h (PG15) on an 8 kB page held in a byte array,
 * little-endian, shared by every resource manager's redo.
 *
 * <pre>
 * PageHeaderData (24 bytes):
 *  0 pd_lsn (xlogid u32, xrecoff u32)  8 pd_checksum u16  10 pd_flags u16  12 pd_lower u16
 * 14 pd_upper u16  16 pd_special u16  18 pd_pagesize_version u16  20 pd_prune_xid u32
 * 24 pd_linp[]: ItemIdData u32 = lp_off:15 | lp_flags:2 | lp_len:15 (low bits first)
 * </pre>
 *
 * Errors are {@link IllegalStateException}s; the rmgr code turns them into RedoExceptions with
 * the record's LSN.
 */
public final class Page {
    public static final int BLCKSZ = 8192;
    public static final int SIZE_OF_PAGE_HEADER_DATA = 24;
    public static final int PG_PAGE_LAYOUT_VERSION = 4;
    public static final int PD_HAS_FREE_LINES = 0x0001;
    public static final int PD_PAGE_FULL = 0x0002;
    public static final int PD_ALL_VISIBLE = 0x0004;

    public static final int LP_UNUSED = 0;
    public static final int LP_NORMAL = 1;
    public static final int LP_REDIRECT = 2;
    public static final int LP_DEAD = 3;

    public static final int FIRST_OFFSET_NUMBER = 1;
    /** MaxHeapTuplesPerPage for 8 kB pages. */
    public static final int MAX_HEAP_TUPLES_PER_PAGE = 291;

    private Page() {
    }

    // ------------------------------------------------------------ raw fields

    public static int u16(byte[] p, int o) {
        return (p[o] & 0xFF) | (p[o + 1] & 0xFF) << 8;
    }

    public static int u32(byte[] p, int o) {
        return (p[o] & 0xFF) | (p[o + 1] & 0xFF) << 8 | (p[o + 2] & 0xFF) << 16 | (p[o + 3] & 0xFF) << 24;
    }

    public static void put16(byte[] p, int o, int v) {
        p[o] = (byte) v;
        p[o + 1] = (byte) (v >>> 8);
    }

    public static void put32(byte[] p, int o, int v) {
        put16(p, o, v);
        put16(p, o + 2, v >>> 16);
    }

    public static int maxAlign(int n) {
        return (n + 7) & ~7;
    }

    public static int shortAlign(int n) {
        return (n + 1) & ~1;
    }

    // ------------------------------------------------------------ header

    public static long lsn(byte[] p) {
        return ((long) u32(p, 0) << 32) | (u32(p, 4) & 0xFFFFFFFFL);
    }

    public static void setLsn(byte[] p, long lsn) {
        put32(p, 0, (int) (lsn >>> 32));
        put32(p, 4, (int) lsn);
    }

    public static int flags(byte[] p) {
        return u16(p, 10);
    }

    public static void setFlags(byte[] p, int f) {
        put16(p, 10, f);
    }

    public static int lower(byte[] p) {
        return u16(p, 12);
    }

    public static void setLower(byte[] p, int v) {
        put16(p, 12, v);
    }

    public static int upper(byte[] p) {
        return u16(p, 14);
    }

    public static void setUpper(byte[] p, int v) {
        put16(p, 14, v);
    }

    public static int special(byte[] p) {
        return u16(p, 16);
    }

    public static int pruneXid(byte[] p) {
        return u32(p, 20);
    }

    public static boolean isNew(byte[] p) {
        return upper(p) == 0;
    }

    /** PageInit: an empty page with {@code specialSize} bytes of special space. */
    public static void init(byte[] p, int specialSize) {
        specialSize = maxAlign(specialSize);
        java.util.Arrays.fill(p, (byte) 0);
        setLower(p, SIZE_OF_PAGE_HEADER_DATA);
        setUpper(p, BLCKSZ - specialSize);
        put16(p, 16, BLCKSZ - specialSize);
        put16(p, 18, BLCKSZ | PG_PAGE_LAYOUT_VERSION);
    }

    public static void setAllVisible(byte[] p) {
        setFlags(p, flags(p) | PD_ALL_VISIBLE);
    }

    public static void clearAllVisible(byte[] p) {
        setFlags(p, flags(p) & ~PD_ALL_VISIBLE);
    }

    /** PageSetPrunable: remember the oldest xid that may make something prunable. */
    public static void setPrunable(byte[] p, int xid) {
        int cur = pruneXid(p);
        if (cur == 0 || Xid.precedes(xid, cur)) {
            put32(p, 20, xid);
        }
    }

    // ------------------------------------------------------------ line pointers

    public static int maxOffsetNumber(byte[] p) {
        int lower = lower(p);
        return lower <= SIZE_OF_PAGE_HEADER_DATA ? 0 : (lower - SIZE_OF_PAGE_HEADER_DATA) / 4;
    }

    static int itemIdPos(int offnum) {
        return SIZE_OF_PAGE_HEADER_DATA + (offnum - 1) * 4;
    }

    public static int itemId(byte[] p, int offnum) {
        return u32(p, itemIdPos(offnum));
    }

    public static int lpOff(int itemId) {
        return itemId & 0x7FFF;
    }

    public static int lpFlags(int itemId) {
        return (itemId >>> 15) & 0x3;
    }

    public static int lpLen(int itemId) {
        return (itemId >>> 17) & 0x7FFF;
    }

    public static int makeItemId(int off, int flags, int len) {
        return (off & 0x7FFF) | (flags & 3) << 15 | (len & 0x7FFF) << 17;
    }

    public static void setItemId(byte[] p, int offnum, int off, int flags, int len) {
        put32(p, itemIdPos(offnum), makeItemId(off, flags, len));
    }

    /** The offset of item {@code offnum}'s data, checked to lie inside the page. */
    public static int itemOffset(byte[] p, int offnum) {
        if (offnum < 1 || offnum > maxOffsetNumber(p)) {
            throw new IllegalStateException("invalid item offset " + offnum + " (page has " + maxOffsetNumber(p) + ")");
        }
        int id = itemId(p, offnum);
        int off = lpOff(id);
        int len = lpLen(id);
        if (lpFlags(id) != LP_NORMAL || off < SIZE_OF_PAGE_HEADER_DATA || off + len > BLCKSZ) {
            throw new IllegalStateException("item " + offnum + " is not a normal item with storage");
        }
        return off;
    }

    public static int itemLength(byte[] p, int offnum) {
        return lpLen(itemId(p, offnum));
    }

    private static void checkHeader(byte[] p) {
        int lower = lower(p);
        int upper = upper(p);
        int special = special(p);
        if (lower < SIZE_OF_PAGE_HEADER_DATA || lower > upper || upper > special || special > BLCKSZ) {
            throw new IllegalStateException("corrupted page pointers: lower = " + lower + ", upper = " + upper
                + ", special = " + special);
        }
    }

    public static final int PAI_OVERWRITE = 1;
    public static final int PAI_IS_HEAP = 2;

    /**
     * PageAddItemExtended: puts {@code size} bytes of {@code item} at {@code offnum} (0 means
     * "first free"). Returns the offset number used, or 0 if it did not fit or was refused.
     */
    public static int addItem(byte[] p, byte[] item, int itemOff, int size, int offnum, int flags) {
        checkHeader(p);
        int limit = maxOffsetNumber(p) + 1;
        boolean needShuffle = false;
        if (offnum > 0) {
            if ((flags & PAI_OVERWRITE) != 0) {
                if (offnum < limit) {
                    int id = itemId(p, offnum);
                    if (lpFlags(id) != LP_UNUSED || lpLen(id) != 0) {
                        return 0; // will not overwrite a used ItemId
                    }
                }
            } else if (offnum < limit) {
                needShuffle = true;
            }
        } else {
            if ((flags(p) & PD_HAS_FREE_LINES) != 0) {
                for (offnum = 1; offnum < limit; offnum++) {
                    int id = itemId(p, offnum);
                    if (lpFlags(id) == LP_UNUSED && lpLen(id) == 0) {
                        break;
                    }
                }
                if (offnum >= limit) {
                    setFlags(p, flags(p) & ~PD_HAS_FREE_LINES);
                }
            } else {
                offnum = limit;
            }
        }
        if (offnum > limit) {
            return 0;
        }
        if ((flags & PAI_IS_HEAP) != 0 && offnum > MAX_HEAP_TUPLES_PER_PAGE) {
            return 0;
        }
        int lower = (offnum == limit || needShuffle) ? lower(p) + 4 : lower(p);
        int upper = upper(p) - maxAlign(size);
        if (lower > upper) {
            return 0;
        }
        int pos = itemIdPos(offnum);
        if (needShuffle) {
            System.arraycopy(p, pos, p, pos + 4, (limit - offnum) * 4);
        }
        put32(p, pos, makeItemId(upper, LP_NORMAL, size));
        System.arraycopy(item, itemOff, p, upper, size);
        setLower(p, lower);
        setUpper(p, upper);
        return offnum;
    }

    /**
     * PageRepairFragmentation: unused line pointers reset and those at the end of the array cut
     * off, tuples compacted against the special space in line pointer order
     * (compactify_tuples), PD_HAS_FREE_LINES set when any unused ones remain.
     */
    public static void repairFragmentation(byte[] p) {
        checkHeader(p);
        int special = special(p);
        int upperLimit = upper(p);
        int nline = maxOffsetNumber(p);
        int[] offs = new int[nline];
        int[] lens = new int[nline];
        int[] idx = new int[nline];
        int n = 0;
        int nunused = 0;
        int total = 0;
        int finalUsed = 0;
        for (int i = 1; i <= nline; i++) {
            int id = itemId(p, i);
            if (lpFlags(id) != LP_UNUSED) {
                finalUsed = i;
                if (lpLen(id) != 0) {
                    int off = lpOff(id);
                    if (off < upperLimit || off >= special) {
                        throw new IllegalStateException("corrupted line pointer: offset = " + off);
                    }
                    idx[n] = i;
                    offs[n] = off;
                    lens[n] = maxAlign(lpLen(id));
                    total += lens[n];
                    n++;
                }
            } else {
                put32(p, itemIdPos(i), 0);
                nunused++;
            }
        }
        if (finalUsed != nline) {
            // trailing unused line pointers are cut off the array (PG15)
            int unusedEnd = nline - finalUsed;
            nunused -= unusedEnd;
            setLower(p, lower(p) - 4 * unusedEnd);
        }
        if (n == 0) {
            setUpper(p, special);
        } else {
            if (total > special - lower(p)) {
                throw new IllegalStateException("corrupted item lengths: total " + total);
            }
            compactify(p, idx, offs, lens, n, special);
        }
        if (nunused > 0) {
            setFlags(p, flags(p) | PD_HAS_FREE_LINES);
        } else {
            setFlags(p, flags(p) & ~PD_HAS_FREE_LINES);
        }
    }

    /** compactify_tuples: items laid out downwards from {@code top} in the given order. */
    static void compactify(byte[] p, int[] idx, int[] offs, int[] lens, int n, int top) {
        // as compactify_tuples (bufpage.c): tuples already in descending offset order move up in
        // place, the highest first, so none overwrites one not yet moved; otherwise each is
        // copied from a copy of the tuple area
        boolean presorted = true;
        for (int i = 1; i < n && presorted; i++) {
            presorted = offs[i] < offs[i - 1];
        }
        int upper = top;
        if (presorted) {
            for (int i = 0; i < n; i++) {
                upper -= lens[i];
                if (offs[i] != upper) {
                    System.arraycopy(p, offs[i], p, upper, lens[i]);
                }
                int id = itemId(p, idx[i]);
                put32(p, itemIdPos(idx[i]), makeItemId(upper, lpFlags(id), lpLen(id)));
            }
        } else {
            int from = top;
            for (int i = 0; i < n; i++) {
                from = Math.min(from, offs[i]);
            }
            byte[] scratch = SCRATCH.get();
            System.arraycopy(p, from, scratch, from, top - from);
            for (int i = 0; i < n; i++) {
                upper -= lens[i];
                System.arraycopy(scratch, offs[i], p, upper, lens[i]);
                int id = itemId(p, idx[i]);
                put32(p, itemIdPos(idx[i]), makeItemId(upper, lpFlags(id), lpLen(id)));
            }
        }
        setUpper(p, upper);
    }

    /** A page-sized scratch area per thread, for compactify. */
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[BLCKSZ]);

    /** PageTruncateLinePointerArray: drop unused line pointers at the end (never the first one). */
    public static void truncateLinePointerArray(byte[] p) {
        boolean countDone = false;
        boolean setHint = false;
        int nunusedEnd = 0;
        for (int i = maxOffsetNumber(p); i >= FIRST_OFFSET_NUMBER; i--) {
            int id = itemId(p, i);
            boolean used = lpFlags(id) != LP_UNUSED;
            if (!countDone && i > FIRST_OFFSET_NUMBER) {
                if (!used) {
                    nunusedEnd++;
                } else {
                    countDone = true;
                }
            } else if (!used) {
                setHint = true;
                break;
            }
        }
        if (nunusedEnd > 0) {
            setLower(p, lower(p) - 4 * nunusedEnd);
        }
        if (setHint) {
            setFlags(p, flags(p) | PD_HAS_FREE_LINES);
        } else {
            setFlags(p, flags(p) & ~PD_HAS_FREE_LINES);
        }
    }

    /** PageIndexTupleDelete: removes an index tuple and closes the gap (index pages). */
    public static void indexTupleDelete(byte[] p, int offnum) {
        checkHeader(p);
        int nline = maxOffsetNumber(p);
        if (offnum <= 0 || offnum > nline) {
            throw new IllegalStateException("invalid index offnum: " + offnum);
        }
        int id = itemId(p, offnum);
        int size = maxAlign(lpLen(id));
        int offset = lpOff(id);
        int upper = upper(p);
        if (offset < upper || offset + size > special(p) || offset != maxAlign(offset)) {
            throw new IllegalStateException("corrupted line pointer: offset = " + offset + ", size = " + size);
        }
        int nbytes = SIZE_OF_PAGE_HEADER_DATA + nline * 4 - (itemIdPos(offnum) + 4);
        if (nbytes > 0) {
            System.arraycopy(p, itemIdPos(offnum) + 4, p, itemIdPos(offnum), nbytes);
        }
        // move the tuples that were below the deleted one up by its size
        if (offset > upper) {
            System.arraycopy(p, upper, p, upper + size, offset - upper);
        }
        setUpper(p, upper + size);
        setLower(p, lower(p) - 4);
        for (int i = 1; i <= nline - 1; i++) {
            int o = itemId(p, i);
            if (lpLen(o) != 0 && lpOff(o) <= offset) {
                put32(p, itemIdPos(i), makeItemId(lpOff(o) + size, lpFlags(o), lpLen(o)));
            }
        }
    }

    /** PageIndexMultiDelete: removes several index tuples (offsets ascending) and compacts. */
    public static void indexMultiDelete(byte[] p, int[] itemnos) {
        if (itemnos.length == 0) {
            return;
        }
        if (itemnos.length <= 2) {
            for (int i = itemnos.length - 1; i >= 0; i--) {
                indexTupleDelete(p, itemnos[i]);
            }
            return;
        }
        checkHeader(p);
        int special = special(p);
        int nline = maxOffsetNumber(p);
        int[] idx = new int[nline];
        int[] offs = new int[nline];
        int[] lens = new int[nline];
        int[] ids = new int[nline];
        int n = 0;
        int next = 0;
        int total = 0;
        for (int off = 1; off <= nline; off++) {
            int id = itemId(p, off);
            int size = lpLen(id);
            int offset = lpOff(id);
            if (offset < upper(p) || offset + size > special || offset != maxAlign(offset)) {
                throw new IllegalStateException("corrupted line pointer: offset = " + offset + ", size = " + size);
            }
            if (next < itemnos.length && itemnos[next] == off) {
                next++;
            } else {
                idx[n] = n + 1;
                offs[n] = offset;
                lens[n] = maxAlign(size);
                ids[n] = id;
                total += lens[n];
                n++;
            }
        }
        if (next != itemnos.length) {
            throw new IllegalStateException("incorrect index offsets supplied");
        }
        if (total > special - lower(p)) {
            throw new IllegalStateException("corrupted item lengths: total " + total);
        }
        // rewrite the line pointer array with the survivors, then compact their data
        for (int i = 0; i < n; i++) {
            put32(p, itemIdPos(i + 1), ids[i]);
        }
        setLower(p, SIZE_OF_PAGE_HEADER_DATA + n * 4);
        compactify(p, idx, offs, lens, n, special);
    }

    /** PageIndexTupleDeleteNoCompact: removes an item, leaving the other line pointers where they are. */
    public static void indexTupleDeleteNoCompact(byte[] p, int offnum) {
        checkHeader(p);
        int nline = maxOffsetNumber(p);
        if (offnum <= 0 || offnum > nline) {
            throw new IllegalStateException("invalid index offnum: " + offnum);
        }
        int id = itemId(p, offnum);
        int offset = lpOff(id);
        int size = lpLen(id);
        int upper = upper(p);
        if (offset < upper || offset + size > special(p) || offset != maxAlign(offset)) {
            throw new IllegalStateException("corrupted line pointer: offset = " + offset + ", size = " + size);
        }
        size = maxAlign(size);
        if (offnum < nline) {
            put32(p, itemIdPos(offnum), 0);
        } else {
            setLower(p, lower(p) - 4);
            nline--;
        }
        if (offset > upper) {
            System.arraycopy(p, upper, p, upper + size, offset - upper);
        }
        setUpper(p, upper + size);
        if (lower(p) > SIZE_OF_PAGE_HEADER_DATA) {
            for (int i = 1; i <= nline; i++) {
                int o = itemId(p, i);
                if (lpLen(o) != 0 && lpOff(o) <= offset) {
                    put32(p, itemIdPos(i), makeItemId(lpOff(o) + size, lpFlags(o), lpLen(o)));
                }
            }
        }
    }

    /**
     * PageIndexTupleOverwrite: replaces item {@code offnum} with {@code newSize} bytes, moving
     * the tuples below it as needed. Returns false if it does not fit.
     */
    public static boolean indexTupleOverwrite(byte[] p, int offnum, byte[] item, int itemOff, int newSize) {
        checkHeader(p);
        int nline = maxOffsetNumber(p);
        if (offnum <= 0 || offnum > nline) {
            throw new IllegalStateException("invalid index offnum: " + offnum);
        }
        int id = itemId(p, offnum);
        int oldSize = lpLen(id);
        int offset = lpOff(id);
        int alignedOld = maxAlign(oldSize);
        int alignedNew = maxAlign(newSize);
        int upper = upper(p);
        if (offset < upper || offset + oldSize > special(p) || offset != maxAlign(offset)) {
            throw new IllegalStateException("corrupted line pointer: offset = " + offset + ", size = " + oldSize);
        }
        if (alignedNew > oldSize + (upper - lower(p))) {
            return false;
        }
        int sizeDiff = alignedOld - alignedNew;
        if (sizeDiff != 0) {
            System.arraycopy(p, upper, p, upper + sizeDiff, offset - upper);
            setUpper(p, upper + sizeDiff);
            for (int i = 1; i <= nline; i++) {
                int o = itemId(p, i);
                if (lpLen(o) != 0 && lpOff(o) <= offset) {
                    put32(p, itemIdPos(i), makeItemId(lpOff(o) + sizeDiff, lpFlags(o), lpLen(o)));
                }
            }
        }
        int newOffset = offset + sizeDiff;
        put32(p, itemIdPos(offnum), makeItemId(newOffset, lpFlags(id), newSize));
        System.arraycopy(item, itemOff, p, newOffset, newSize);
        return true;
    }
}
