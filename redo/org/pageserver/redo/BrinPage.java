package org.pageserver.redo;

/**
 * BRIN page layouts (brin_page.h, PG15) and the page initializations redo shares with the
 * index: brin_page_init and brin_metapage_init (brin_pageops.c), brinSetHeapBlockItemptr
 * (brin_revmap.c).
 *
 * <pre>
 * BrinSpecialSpace: the last MAXALIGN(1) = 8 bytes, four u16; the page type is the last one
 *   (pd_special + 6), the flags the one before it (pd_special + 4)
 * metapage (block 0), BrinMetaPageData at PageGetContents (24): brinMagic u32, brinVersion u32,
 *   pagesPerRange u32, lastRevmapPage u32; pd_lower just past it (40)
 * revmap pages (blocks 1..lastRevmapPage): from 24, REVMAP_PAGE_MAXITEMS (1360) ItemPointerData
 *   (bi_hi u16, bi_lo u16, ip_posid u16), one per range: where the range's BrinTuple is
 * regular pages: BrinTuples as items
 * </pre>
 */
public final class BrinPage {
    public static final int BRIN_PAGETYPE_META = 0xF091;
    public static final int BRIN_PAGETYPE_REVMAP = 0xF092;
    public static final int BRIN_PAGETYPE_REGULAR = 0xF093;
    /** BRIN_EVACUATE_PAGE: set without WAL by brin_start_evacuating_page. */
    public static final int BRIN_EVACUATE_PAGE = 1;

    static final int SIZE_OF_BRIN_SPECIAL_SPACE = 8;
    static final int BRIN_META_MAGIC = 0xA8109CFA;
    /** PageGetContents: MAXALIGN(SizeOfPageHeaderData). */
    static final int CONTENTS = Page.SIZE_OF_PAGE_HEADER_DATA;
    static final int SIZE_OF_BRIN_META_PAGE_DATA = 16;
    static final int LAST_REVMAP_PAGE = CONTENTS + 12;
    static final int SIZE_OF_ITEM_POINTER = 6;
    /** REVMAP_PAGE_MAXITEMS for 8 kB pages. */
    static final int REVMAP_PAGE_MAXITEMS = (Page.BLCKSZ - CONTENTS - SIZE_OF_BRIN_SPECIAL_SPACE) / SIZE_OF_ITEM_POINTER;
    static final int INVALID_BLOCK_NUMBER = 0xFFFFFFFF;

    private BrinPage() {
    }

    /** BrinPageType: the special space's last u16 (read where pd_special points, as the macro does). */
    public static int pageType(byte[] p) {
        return Page.u16(p, Page.special(p) + 6);
    }

    /** BrinPageFlags. */
    public static int pageFlags(byte[] p) {
        return Page.u16(p, Page.special(p) + 4);
    }

    public static void setPageFlags(byte[] p, int flags) {
        Page.put16(p, Page.special(p) + 4, flags);
    }

    /** Mirrors brin_page_init: PageInit with BrinSpecialSpace, and the page type. */
    static void pageInit(byte[] p, int type) {
        Page.init(p, SIZE_OF_BRIN_SPECIAL_SPACE);
        Page.put16(p, Page.special(p) + 6, type);
    }

    /** Mirrors brin_metapage_init: lastRevmapPage 0, so the first revmap page is block 1. */
    static void metapageInit(byte[] p, int pagesPerRange, int version) {
        pageInit(p, BRIN_PAGETYPE_META);
        Page.put32(p, CONTENTS, BRIN_META_MAGIC);
        Page.put32(p, CONTENTS + 4, version);
        Page.put32(p, CONTENTS + 8, pagesPerRange);
        Page.put32(p, LAST_REVMAP_PAGE, 0);
        setMetaLower(p);
    }

    /** pd_lower just past BrinMetaPageData, so that a compressed image keeps the metadata. */
    static void setMetaLower(byte[] p) {
        Page.setLower(p, CONTENTS + SIZE_OF_BRIN_META_PAGE_DATA);
    }

    static void setLastRevmapPage(byte[] p, int blkno) {
        Page.put32(p, LAST_REVMAP_PAGE, blkno);
    }

    /**
     * Mirrors brinSetHeapBlockItemptr: the revmap entry of the range holding {@code heapBlk}
     * (HEAPBLK_TO_REVMAP_INDEX, unsigned) set to (blkno, offnum), or invalid (InvalidBlockNumber,
     * 0) when offnum is 0.
     */
    static void setHeapBlockItemptr(byte[] p, int pagesPerRange, int heapBlk, int blkno, int offnum) {
        int index = Integer.remainderUnsigned(Integer.divideUnsigned(heapBlk, pagesPerRange), REVMAP_PAGE_MAXITEMS);
        int at = CONTENTS + index * SIZE_OF_ITEM_POINTER;
        if (offnum == 0) {
            blkno = INVALID_BLOCK_NUMBER;
        }
        Page.put16(p, at, blkno >>> 16);
        Page.put16(p, at + 2, blkno);
        Page.put16(p, at + 4, offnum);
    }
}
