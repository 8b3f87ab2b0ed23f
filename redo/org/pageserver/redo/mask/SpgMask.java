package org.pageserver.redo.mask;

import org.pageserver.redo.Page;

/** Mirrors spg_mask (spgxlog.c, PG15): what may differ between an SP-GiST page and its replay. */
public final class SpgMask {
    private SpgMask() {
    }

    /** Masks {@code p} in place. */
    public static void mask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskPageHintBits(p);
        // the unused space only when pd_lower looks set (not on a zeroed new page)
        if (Page.lower(p) >= Page.SIZE_OF_PAGE_HEADER_DATA) {
            BufMask.maskUnusedSpace(p);
        }
    }
}
