package org.pageserver.redo;

/**
 * The GIN page layout (ginblock.h, PG15) and the page helpers gin_redo calls: GinInitPage,
 * GinInitMetabuffer (ginutil.c), GinDataPageAddPostingItem and GinPageDeletePostingItem
 * (gindatapage.c).
 *
 * <pre>
 * GinPageOpaqueData (special space, 8 bytes): rightlink u32, maxoff u16, flags u16
 * data pages: right bound ItemPointerData at 24, then (at 32) PostingItems (internal pages,
 *   10 bytes each: child BlockIdData, key ItemPointerData) or compressed posting list segments
 *   (leaf pages); pd_lower marks the end of the data (GinDataPageSetDataSize)
 * metapage: GinMetaPageData (56 bytes) at 24, pd_lower just past it
 * </pre>
 */
final class GinPage {
    static final int GIN_DATA = 1;
    static final int GIN_LEAF = 1 << 1;
    static final int GIN_DELETED = 1 << 2;
    static final int GIN_META = 1 << 3;
    static final int GIN_LIST = 1 << 4;
    static final int GIN_LIST_FULLROW = 1 << 5;
    static final int GIN_INCOMPLETE_SPLIT = 1 << 6;
    static final int GIN_COMPRESSED = 1 << 7;

    static final int SIZE_OF_OPAQUE = 8;
    static final int SIZE_OF_POSTING_ITEM = 10;
    /** GinDataPageGetData: PageGetContents + MAXALIGN(sizeof(ItemPointerData)). */
    static final int DATA_OFFSET = Page.SIZE_OF_PAGE_HEADER_DATA + 8;
    /** GinDataPageMaxDataSize. */
    static final int GIN_DATA_PAGE_MAX_DATA_SIZE = Page.BLCKSZ - DATA_OFFSET - SIZE_OF_OPAQUE;
    static final int GIN_CURRENT_VERSION = 2;

    private GinPage() {
    }

    /** BlockIdGetBlockNumber: bi_hi, bi_lo (u16 each). */
    static int blockId(byte[] b, int off) {
        return Page.u16(b, off) << 16 | Page.u16(b, off + 2);
    }

    /** BlockIdSet. */
    static void setBlockId(byte[] b, int off, int blkno) {
        Page.put16(b, off, blkno >>> 16);
        Page.put16(b, off + 2, blkno);
    }

    static void setRightlink(byte[] p, int blkno) {
        Page.put32(p, Page.special(p), blkno);
    }

    static int maxoff(byte[] p) {
        return Page.u16(p, Page.special(p) + 4);
    }

    static void setMaxoff(byte[] p, int maxoff) {
        Page.put16(p, Page.special(p) + 4, maxoff);
    }

    static int flags(byte[] p) {
        return Page.u16(p, Page.special(p) + 6);
    }

    static void setFlags(byte[] p, int flags) {
        Page.put16(p, Page.special(p) + 6, flags);
    }

    /** GinInitPage: PageInit with GinPageOpaqueData, the flags given, no right sibling. */
    static void initPage(byte[] p, int flags) {
        Page.init(p, SIZE_OF_OPAQUE);
        setFlags(p, flags);
        setRightlink(p, GinXlog.INVALID_BLOCK_NUMBER);
    }

    /**
     * GinInitMetabuffer: an empty metapage (no pending list, no statistics, the current
     * version), pd_lower just past the GinMetaPageData so that a compressed image keeps it.
     */
    static void initMetabuffer(byte[] p) {
        initPage(p, GIN_META);
        int m = Page.SIZE_OF_PAGE_HEADER_DATA;
        Page.put32(p, m, GinXlog.INVALID_BLOCK_NUMBER); // head
        Page.put32(p, m + 4, GinXlog.INVALID_BLOCK_NUMBER); // tail
        Page.put32(p, m + 48, GIN_CURRENT_VERSION); // ginVersion; the rest stays zero
        Page.setLower(p, m + GinXlog.SIZE_OF_GIN_META_PAGE_DATA);
    }

    /** GinDataLeafPageGetPostingListSize. */
    static int postingListSize(byte[] p) {
        return Page.lower(p) - DATA_OFFSET;
    }

    /** GinDataPageSetDataSize: pd_lower at the end of {@code size} bytes of data. */
    static void setDataSize(byte[] p, int size) {
        if (size < 0 || size > GIN_DATA_PAGE_MAX_DATA_SIZE) {
            throw new IllegalStateException("GIN data page data size " + size + " out of 0.." + GIN_DATA_PAGE_MAX_DATA_SIZE);
        }
        Page.setLower(p, DATA_OFFSET + size);
    }

    /** GinDataPageGetPostingItem: where PostingItem {@code i} (from 1) is. */
    static int postingItem(int i) {
        return DATA_OFFSET + (i - 1) * SIZE_OF_POSTING_ITEM;
    }

    /**
     * Mirrors GinDataPageAddPostingItem: the item at {@code offset} (InvalidOffsetNumber: after
     * the last), those from it on moved one to the right.
     */
    static void addPostingItem(byte[] p, byte[] item, int offset) {
        int maxoff = maxoff(p);
        if (offset > maxoff + 1 || (maxoff + 1) * SIZE_OF_POSTING_ITEM > GIN_DATA_PAGE_MAX_DATA_SIZE) {
            throw new IllegalStateException("posting item " + offset + " cannot be added to a page of " + maxoff);
        }
        int at;
        if (offset == 0) {
            at = postingItem(maxoff + 1);
        } else {
            at = postingItem(offset);
            if (offset != maxoff + 1) {
                System.arraycopy(p, at, p, at + SIZE_OF_POSTING_ITEM, (maxoff - offset + 1) * SIZE_OF_POSTING_ITEM);
            }
        }
        System.arraycopy(item, 0, p, at, SIZE_OF_POSTING_ITEM);
        maxoff++;
        setMaxoff(p, maxoff);
        setDataSize(p, maxoff * SIZE_OF_POSTING_ITEM);
    }

    /** Mirrors GinPageDeletePostingItem: the items after {@code offset} moved one to the left. */
    static void deletePostingItem(byte[] p, int offset) {
        int maxoff = maxoff(p);
        if (offset < Page.FIRST_OFFSET_NUMBER || offset > maxoff) {
            throw new IllegalStateException("posting item " + offset + " is not on a page of " + maxoff);
        }
        if (offset != maxoff) {
            System.arraycopy(p, postingItem(offset + 1), p, postingItem(offset), SIZE_OF_POSTING_ITEM * (maxoff - offset));
        }
        maxoff--;
        setMaxoff(p, maxoff);
        setDataSize(p, maxoff * SIZE_OF_POSTING_ITEM);
    }
}
