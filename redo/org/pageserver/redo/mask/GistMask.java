package org.pageserver.redo.mask;

import org.pageserver.redo.GistPage;
import org.pageserver.redo.Page;

/** Mirrors gist_mask (gistxlog.c, PG15). */
public final class GistMask {
    private GistMask() {
    }

    /** The page masked in place as gist_mask does. */
    public static void gistMask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskPageHintBits(p);
        BufMask.maskUnusedSpace(p);
        // the NSN is a special purpose LSN, masked for the same reason
        GistPage.setNsn(p, 0);
        // F_FOLLOW_RIGHT of a left child is cleared after its WAL record is written
        // (gistplacetopage), so it may differ from the image
        GistPage.setFlags(p, GistPage.flags(p) | GistPage.F_FOLLOW_RIGHT);
        if (GistPage.isLeaf(p)) {
            // gistkillitems sets LP_DEAD on leaf items without WAL
            BufMask.maskLpFlags(p);
        }
        // redo never marks a page as having garbage
        GistPage.setFlags(p, GistPage.flags(p) & ~GistPage.F_HAS_GARBAGE);
    }
}
