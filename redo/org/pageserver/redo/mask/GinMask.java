package org.pageserver.redo.mask;

import org.pageserver.redo.Page;

/** Mirrors gin_mask (ginxlog.c, PG15). */
public final class GinMask {
    /** GIN_DELETED (ginblock.h): the flag in GinPageOpaqueData.flags, the last u16 of the special space. */
    static final int GIN_DELETED = 1 << 2;

    private GinMask() {
    }

    public static void mask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskPageHintBits(p);
        // a deleted page is initialized to empty: all of its content is masked; on the others
        // the hole, if pd_lower looks set
        if ((Page.u16(p, Page.special(p) + 6) & GIN_DELETED) != 0) {
            BufMask.maskPageContent(p);
        } else if (Page.lower(p) > Page.SIZE_OF_PAGE_HEADER_DATA) {
            BufMask.maskUnusedSpace(p);
        }
    }
}
