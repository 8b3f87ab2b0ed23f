package org.pageserver.redo.mask;

import org.pageserver.redo.HashPage;

/** Mirrors hash_mask (hash_xlog.c, PG15). */
final class HashMask {
    private HashMask() {
    }

    static void hashMask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskPageHintBits(p);
        BufMask.maskUnusedSpace(p);
        int pagetype = HashPage.flag(p) & HashPage.LH_PAGE_TYPE;
        if (pagetype == HashPage.LH_UNUSED_PAGE) {
            // a freed overflow page: nothing on it matters
            BufMask.maskPageContent(p);
        } else if (pagetype == HashPage.LH_BUCKET_PAGE || pagetype == HashPage.LH_OVERFLOW_PAGE) {
            // scans set LP_DEAD without WAL (_hash_kill_items)
            BufMask.maskLpFlags(p);
        }
        // and LH_PAGE_HAS_DEAD_TUPLES with it, a hint that may stay unlogged
        HashPage.setFlag(p, HashPage.flag(p) & ~HashPage.LH_PAGE_HAS_DEAD_TUPLES);
    }
}
