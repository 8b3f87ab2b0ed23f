package org.pageserver.redo.mask;

import org.pageserver.redo.BrinPage;
import org.pageserver.redo.Page;

/** Mirrors brin_mask (brin_xlog.c, PG15). */
public final class BrinMask {
    private BrinMask() {
    }

    /**
     * The LSN, checksum and hint bits; the unused space of regular pages and of metapages whose
     * pd_lower is set (pre-v11 metapages left it at the header); BRIN_EVACUATE_PAGE, which is not
     * WAL-logged. A page whose pd_special leaves no room for BrinSpecialSpace has no BRIN type
     * and no flags to mask.
     */
    public static void mask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskPageHintBits(p);
        if (Page.special(p) > Page.BLCKSZ - 8) {
            return;
        }
        int type = BrinPage.pageType(p);
        if (type == BrinPage.BRIN_PAGETYPE_REGULAR
            || (type == BrinPage.BRIN_PAGETYPE_META && Page.lower(p) > Page.SIZE_OF_PAGE_HEADER_DATA)) {
            BufMask.maskUnusedSpace(p);
        }
        BrinPage.setPageFlags(p, BrinPage.pageFlags(p) & ~BrinPage.BRIN_EVACUATE_PAGE);
    }
}
