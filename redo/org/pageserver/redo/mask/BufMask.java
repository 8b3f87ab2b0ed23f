package org.pageserver.redo.mask;

import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.redo.Page;

/**
 * The masks PostgreSQL applies before comparing a replayed page with a wal_consistency_checking
 * image (access/bufmask.h, bufmask.c; heap_mask in heapam.c, PG15): what may legitimately
 * differ between primary and replay (LSN, checksum, hint bits, unused space, command ids...)
 * is overwritten with MASK_MARKER (0). Pure functions on a copy of the page.
 */
public final class BufMask {
    static final byte MASK_MARKER = 0;
    static final int HEAP_XACT_MASK = 0xFFF0;
    static final int HEAP_XMIN_FROZEN = 0x0300;
    static final int HEAP_XMAX_COMMITTED = 0x0400;
    static final int HEAP_XMAX_INVALID = 0x0800;
    static final int SPEC_TOKEN_OFFSET_NUMBER = 0xFFFE;

    private BufMask() {
    }

    /** The page masked as the rmgr's rm_mask would, or unmasked-but-LSN for rmgrs without one here. */
    public static byte[] mask(int rmid, byte[] page, int blkno) {
        byte[] p = page.clone();
        switch (rmid) {
            case RmgrId.RM_HEAP_ID, RmgrId.RM_HEAP2_ID -> heapMask(p, blkno);
            case RmgrId.RM_BTREE_ID -> btreeMask(p);
            case RmgrId.RM_HASH_ID -> HashMask.hashMask(p);
            case RmgrId.RM_GIN_ID -> GinMask.mask(p);
            case RmgrId.RM_GIST_ID -> GistMask.gistMask(p);
            case RmgrId.RM_SPGIST_ID -> SpgMask.mask(p);
            case RmgrId.RM_BRIN_ID -> BrinMask.mask(p);
            case RmgrId.RM_GENERIC_ID -> GenericMask.mask(p);
            case RmgrId.RM_SEQ_ID -> {
                // seq_mask (sequence.c)
                maskPageLsnAndChecksum(p);
                maskUnusedSpace(p);
            }
            default -> maskPageLsnAndChecksum(p);
        }
        return p;
    }

    public static void maskPageLsnAndChecksum(byte[] p) {
        for (int i = 0; i < 10; i++) {
            p[i] = MASK_MARKER;
        }
    }

    /** Mirrors mask_page_hint_bits: pd_prune_xid and the PD_* hint flags. */
    public static void maskPageHintBits(byte[] p) {
        Page.put32(p, 20, 0);
        Page.setFlags(p, Page.flags(p) & ~(Page.PD_PAGE_FULL | Page.PD_HAS_FREE_LINES | Page.PD_ALL_VISIBLE));
    }

    public static void maskUnusedSpace(byte[] p) {
        int lower = Page.lower(p);
        int upper = Page.upper(p);
        int special = Page.special(p);
        if (lower > upper || special < upper || lower < Page.SIZE_OF_PAGE_HEADER_DATA || special > Page.BLCKSZ) {
            throw new IllegalStateException("invalid page pd_lower " + lower + " pd_upper " + upper + " pd_special "
                + special);
        }
        java.util.Arrays.fill(p, lower, upper, MASK_MARKER);
    }

    public static void maskLpFlags(byte[] p) {
        for (int off = 1; off <= Page.maxOffsetNumber(p); off++) {
            int id = Page.itemId(p, off);
            if (Page.lpFlags(id) != Page.LP_UNUSED) {
                Page.setItemId(p, off, Page.lpOff(id), Page.LP_UNUSED, Page.lpLen(id));
            }
        }
    }

    public static void maskPageContent(byte[] p) {
        java.util.Arrays.fill(p, Page.SIZE_OF_PAGE_HEADER_DATA, Page.BLCKSZ, MASK_MARKER);
        Page.setLower(p, 0);
        Page.setUpper(p, 0);
    }

    /** Mirrors btree_mask (nbtree.c, PG15). */
    public static void btreeMask(byte[] p) {
        maskPageLsnAndChecksum(p);
        maskPageHintBits(p);
        maskUnusedSpace(p);
        int s = Page.special(p);
        int flags = Page.u16(p, s + 12);
        if ((flags & 1) != 0) { // BTP_LEAF: LP_DEAD may be set without WAL
            maskLpFlags(p);
        }
        flags &= ~(64 | 32); // BTP_HAS_GARBAGE, BTP_SPLIT_END
        Page.put16(p, s + 12, flags);
        Page.put16(p, s + 14, 0); // btpo_cycleid
    }

    /** Mirrors heap_mask (heapam.c, PG15). */
    public static void heapMask(byte[] p, int blkno) {
        maskPageLsnAndChecksum(p);
        maskPageHintBits(p);
        maskUnusedSpace(p);
        for (int off = 1; off <= Page.maxOffsetNumber(p); off++) {
            int id = Page.itemId(p, off);
            int item = Page.lpOff(id);
            if (Page.lpFlags(id) == Page.LP_NORMAL) {
                int infomask = Page.u16(p, item + 20);
                if ((infomask & HEAP_XMIN_FROZEN) != HEAP_XMIN_FROZEN) {
                    infomask &= ~HEAP_XACT_MASK;
                } else {
                    infomask &= ~(HEAP_XMAX_INVALID | HEAP_XMAX_COMMITTED);
                }
                Page.put16(p, item + 20, infomask);
                Page.put32(p, item + 8, 0);
                if (Page.u16(p, item + 16) == SPEC_TOKEN_OFFSET_NUMBER) {
                    Page.put16(p, item + 12, blkno >>> 16);
                    Page.put16(p, item + 14, blkno);
                    Page.put16(p, item + 16, off);
                }
            }
            if (Page.lpLen(id) != 0) {
                int len = Page.lpLen(id);
                int pad = Page.maxAlign(len) - len;
                java.util.Arrays.fill(p, item + len, item + len + pad, MASK_MARKER);
            }
        }
    }
}
