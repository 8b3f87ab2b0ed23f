package org.pageserver.redo;

/**
 * The GiST page layout of gist.h (PG15): the special space every GiST page ends with, and the
 * page macros redo and gist_mask use.
 *
 * <pre>
 * GISTPageOpaqueData (special space, 16 bytes): nsn (PageGistNSN: xlogid u32, xrecoff u32),
 *   rightlink u32, flags u16, gist_page_id u16 (GIST_PAGE_ID)
 * A deleted page: GISTDeletedPageContents (deleteXid, a FullTransactionId u64) right after the
 *   page header, pd_lower just past it.
 * </pre>
 */
public final class GistPage {
    public static final int F_LEAF = 1;
    public static final int F_DELETED = 1 << 1;
    public static final int F_FOLLOW_RIGHT = 1 << 3;
    public static final int F_HAS_GARBAGE = 1 << 4;
    static final int GIST_PAGE_ID = 0xFF81;
    static final int SIZE_OF_OPAQUE = 16;
    /** GIST_ROOT_BLKNO. */
    static final int GIST_ROOT_BLKNO = 0;
    /** InvalidBlockNumber. */
    static final int INVALID_BLOCK_NUMBER = 0xFFFFFFFF;
    /** sizeof(GISTDeletedPageContents). */
    static final int SIZE_OF_DELETED_PAGE_CONTENTS = 8;

    private GistPage() {
    }

    public static int flags(byte[] p) {
        return Page.u16(p, Page.special(p) + 12);
    }

    public static void setFlags(byte[] p, int f) {
        Page.put16(p, Page.special(p) + 12, f);
    }

    public static boolean isLeaf(byte[] p) {
        return (flags(p) & F_LEAF) != 0;
    }

    static long nsn(byte[] p) {
        int s = Page.special(p);
        return ((long) Page.u32(p, s) << 32) | (Page.u32(p, s + 4) & 0xFFFFFFFFL);
    }

    /** GistPageSetNSN: the NSN is stored as an LSN is (PageXLogRecPtrSet). */
    public static void setNsn(byte[] p, long nsn) {
        int s = Page.special(p);
        Page.put32(p, s, (int) (nsn >>> 32));
        Page.put32(p, s + 4, (int) nsn);
    }

    static int rightlink(byte[] p) {
        return Page.u32(p, Page.special(p) + 8);
    }

    static void setRightlink(byte[] p, int blkno) {
        Page.put32(p, Page.special(p) + 8, blkno);
    }

    /** gistinitpage: an empty page with GISTPageOpaqueData, no right sibling, the given flags. */
    static void init(byte[] p, int flags) {
        Page.init(p, SIZE_OF_OPAQUE);
        int s = Page.special(p);
        setRightlink(p, INVALID_BLOCK_NUMBER);
        Page.put16(p, s + 12, flags);
        Page.put16(p, s + 14, GIST_PAGE_ID);
    }

    /**
     * GistPageSetDeleted: the page (empty: gistdeletepage deletes only empty leaves) is marked
     * F_DELETED and keeps {@code deleteXid} right after its header.
     */
    static void setDeleted(byte[] p, long deleteXid) {
        setFlags(p, flags(p) | F_DELETED);
        int contents = Page.maxAlign(Page.SIZE_OF_PAGE_HEADER_DATA);
        Page.setLower(p, contents + SIZE_OF_DELETED_PAGE_CONTENTS);
        Page.put32(p, contents, (int) deleteXid);
        Page.put32(p, contents + 4, (int) (deleteXid >>> 32));
    }

    /** PageIsEmpty (bufpage.h): no line pointers. */
    static boolean isEmpty(byte[] p) {
        return Page.lower(p) <= Page.SIZE_OF_PAGE_HEADER_DATA;
    }
}
