package org.pageserver.redo;

/**
 * SP-GiST pages and tuples (access/spgist_private.h, PG15) and the page helpers its redo
 * shares with the inserting code: SpGistInitPage and spgFormDeadTuple (spgutils.c),
 * spgUpdateNodeLink and spgPageIndexMultiDelete (spgdoinsert.c).
 *
 * <pre>
 * SpGistPageOpaqueData (special space, 8 bytes): flags u16, nRedirection u16, nPlaceholder u16,
 *                                                spgist_page_id u16 (0xFF82)
 * SpGistInnerTupleData (8): tupstate:2 | allTheSame:1 | nNodes:13 | prefixSize:16 (u32, low bits
 *   first), size u16; then the prefix (prefixSize bytes), then nNodes node tuples, each an
 *   IndexTupleData (t_tid 6 bytes, t_info u16 whose low 13 bits are its size)
 * SpGistLeafTupleData (12): tupstate:2 | size:30 (u32), t_info u16 (nextOffset in the low 14
 *   bits), heapPtr (6)
 * SpGistDeadTupleData (SGDTSIZE 16): tupstate:2 | size:30, t_info u16, pointer (6), xid u32
 * ItemPointerData: bi_hi u16, bi_lo u16, ip_posid u16
 * </pre>
 */
final class SpgPage {
    static final int SIZE_OF_OPAQUE = 8;
    static final int SPGIST_LEAF = 1 << 2;
    static final int SPGIST_NULLS = 1 << 3;
    static final int SPGIST_PAGE_ID = 0xFF82;

    static final int SPGIST_REDIRECT = 1;
    static final int SPGIST_DEAD = 2;
    static final int SPGIST_PLACEHOLDER = 3;

    /** sizeof(SpGistLeafTupleData): the header redo reads of a logged leaf tuple. */
    static final int SIZE_OF_LEAF_TUPLE_DATA = 12;
    /** MAXALIGN(sizeof(SpGistInnerTupleData)). */
    static final int SGITHDRSZ = 8;
    /** MAXALIGN(sizeof(SpGistDeadTupleData)). */
    static final int SGDTSIZE = 16;
    static final int INVALID_BLOCK_NUMBER = 0xFFFFFFFF;
    static final int INVALID_OFFSET_NUMBER = 0;
    /** The size bits of an IndexTupleData's t_info (INDEX_SIZE_MASK). */
    static final int INDEX_SIZE_MASK = 0x1FFF;

    private SpgPage() {
    }

    /** SpGistInitPage: an empty page with SpGistPageOpaqueData {@code flags} as special space. */
    static void initPage(byte[] p, int flags) {
        Page.init(p, SIZE_OF_OPAQUE);
        int s = Page.special(p);
        Page.put16(p, s, flags);
        Page.put16(p, s + 6, SPGIST_PAGE_ID);
    }

    static int nRedirection(byte[] p) {
        return Page.u16(p, Page.special(p) + 2);
    }

    /** Stored as the C uint16 field is: a count driven below zero wraps, as in PostgreSQL. */
    static void setNRedirection(byte[] p, int n) {
        Page.put16(p, Page.special(p) + 2, n);
    }

    static int nPlaceholder(byte[] p) {
        return Page.u16(p, Page.special(p) + 4);
    }

    static void setNPlaceholder(byte[] p, int n) {
        Page.put16(p, Page.special(p) + 4, n);
    }

    /** The tupstate of the tuple at {@code off} (inner, leaf and dead tuples keep it in the same bits). */
    static int tupstate(byte[] t, int off) {
        return t[off] & 3;
    }

    static void setTupstate(byte[] t, int off, int state) {
        t[off] = (byte) ((t[off] & ~3) | state);
    }

    /** A leaf (or dead) tuple's size field. */
    static int leafTupleSize(byte[] t, int off) {
        return Page.u32(t, off) >>> 2;
    }

    static int innerTupleSize(byte[] t, int off) {
        return Page.u16(t, off + 4);
    }

    /** SGLT_SET_NEXTOFFSET on the leaf tuple at {@code off}: the two flag bits of t_info kept. */
    static void setNextOffset(byte[] t, int off, int offnum) {
        Page.put16(t, off + 4, (Page.u16(t, off + 4) & 0xC000) | (offnum & 0x3FFF));
    }

    /** ItemPointerSet. */
    static void setItemPointer(byte[] t, int off, int blkno, int offnum) {
        Page.put16(t, off, blkno >>> 16);
        Page.put16(t, off + 2, blkno);
        Page.put16(t, off + 4, offnum);
    }

    /**
     * spgFormDeadTuple: a REDIRECT to ({@code blkno}, {@code offnum}) stamped with {@code xid},
     * or a DEAD or PLACEHOLDER tuple with an invalid pointer and xid. t_info stays zero: the
     * storage it is formed in starts zeroed and nothing else sets its flag bits.
     */
    static byte[] formDeadTuple(int tupstate, int blkno, int offnum, int xid) {
        byte[] t = new byte[SGDTSIZE];
        Page.put32(t, 0, tupstate | SGDTSIZE << 2);
        if (tupstate == SPGIST_REDIRECT) {
            setItemPointer(t, 6, blkno, offnum);
            Page.put32(t, 12, xid);
        } else {
            setItemPointer(t, 6, INVALID_BLOCK_NUMBER, INVALID_OFFSET_NUMBER);
        }
        return t;
    }

    /**
     * spgUpdateNodeLink: points node {@code nodeN} of the inner tuple at item {@code offnum} of
     * the page at ({@code blkno}, {@code target}).
     */
    static void updateNodeLink(byte[] p, int offnum, int nodeN, int blkno, int target) {
        int tup = Page.itemOffset(p, offnum);
        int end = tup + Page.itemLength(p, offnum);
        int word = Page.u32(p, tup);
        int nNodes = (word >>> 3) & 0x1FFF;
        int prefixSize = word >>> 16;
        if (nodeN >= nNodes) {
            throw new IllegalStateException("failed to find requested node " + nodeN + " in SPGiST inner tuple");
        }
        int node = tup + SGITHDRSZ + prefixSize;
        for (int i = 0; i < nodeN && node + 8 <= end; i++) {
            node += Page.u16(p, node + 6) & INDEX_SIZE_MASK;
        }
        if (node + 8 > end) {
            throw new IllegalStateException("node " + nodeN + " lies past the end of the SPGiST inner tuple at item "
                + offnum);
        }
        setItemPointer(p, node, blkno, target);
    }

    /**
     * spgPageIndexMultiDelete: deletes the items {@code itemnos} (any order) and puts a dead
     * tuple at each of their offsets, the first listed of state {@code firststate}, the others
     * {@code reststate}; REDIRECT ones point at ({@code blkno}, {@code offnum}) with {@code xid}.
     * The page's redirect and placeholder counts follow.
     */
    static void pageIndexMultiDelete(byte[] p, int[] itemnos, int firststate, int reststate, int blkno, int offnum,
                                     int xid) {
        if (itemnos.length == 0) {
            return;
        }
        int[] sorted = itemnos.clone();
        java.util.Arrays.sort(sorted);
        Page.indexMultiDelete(p, sorted);
        int firstItem = itemnos[0];
        for (int itemno : sorted) {
            int tupstate = itemno == firstItem ? firststate : reststate;
            byte[] dead = formDeadTuple(tupstate, blkno, offnum, xid);
            if (Page.addItem(p, dead, 0, dead.length, itemno, 0) != itemno) {
                throw new IllegalStateException("failed to add item of size " + dead.length + " to SPGiST index page");
            }
            if (tupstate == SPGIST_REDIRECT) {
                setNRedirection(p, nRedirection(p) + 1);
            } else if (tupstate == SPGIST_PLACEHOLDER) {
                setNPlaceholder(p, nPlaceholder(p) + 1);
            }
        }
    }
}
