package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.HashXlog.HashSplitMetaData;
import org.pageserver.redo.HashXlog.MovedTuple;
import org.pageserver.redo.HashXlog.XlHashAddOvflPage;
import org.pageserver.redo.HashXlog.XlHashDelete;
import org.pageserver.redo.HashXlog.XlHashInitBitmapPage;
import org.pageserver.redo.HashXlog.XlHashInitMetaPage;
import org.pageserver.redo.HashXlog.XlHashInsert;
import org.pageserver.redo.HashXlog.XlHashMovePageContents;
import org.pageserver.redo.HashXlog.XlHashSplitAllocatePage;
import org.pageserver.redo.HashXlog.XlHashSplitComplete;
import org.pageserver.redo.HashXlog.XlHashSqueezePage;
import org.pageserver.redo.HashXlog.XlHashUpdateMetaPage;
import org.pageserver.redo.HashXlog.XlHashVacuumOnePage;

/**
 * Redo of RM_HASH_ID records (hash_xlog.c, PG15), one block at a time: each method does the
 * part of its PostgreSQL routine that touches block {@code blockId} and returns whether
 * PostgreSQL sets that page's LSN. {@link WalRedo} has already applied the XLogReadBufferForRedo
 * rules (images, "page LSN at or past the record: skip", zeroing of pages the record
 * initializes) when these run.
 *
 * <p>Blocks PostgreSQL reads only to take a cleanup lock on the primary bucket page
 * (MOVE_PAGE_CONTENTS, SQUEEZE_PAGE and DELETE's block 0 when it is not the page written) are
 * not changed and keep their LSN. SPLIT_ALLOCATE_PAGE and SPLIT_COMPLETE change their pages even
 * when restored from an image in PostgreSQL, but the image already holds those changes, so
 * restoring it is all there is to do here.
 */
final class HashRedo {
    private HashRedo() {
    }

    /** Returns true when PostgreSQL's redo sets this block's LSN (PageSetLSN). */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        return switch (r.rmgrInfo()) {
            case HashXlog.XLOG_HASH_INIT_META_PAGE -> initMetaPage(r, blockId, page);
            case HashXlog.XLOG_HASH_INIT_BITMAP_PAGE -> initBitmapPage(r, blockId, page);
            case HashXlog.XLOG_HASH_INSERT -> insert(r, blockId, page);
            case HashXlog.XLOG_HASH_ADD_OVFL_PAGE -> addOvflPage(r, blockId, page);
            case HashXlog.XLOG_HASH_SPLIT_ALLOCATE_PAGE -> splitAllocatePage(r, blockId, page);
            case HashXlog.XLOG_HASH_SPLIT_PAGE -> splitPage(r);
            case HashXlog.XLOG_HASH_SPLIT_COMPLETE -> splitComplete(r, blockId, page);
            case HashXlog.XLOG_HASH_MOVE_PAGE_CONTENTS -> movePageContents(r, blockId, page);
            case HashXlog.XLOG_HASH_SQUEEZE_PAGE -> squeezePage(r, blockId, page);
            case HashXlog.XLOG_HASH_DELETE -> delete(r, blockId, page);
            case HashXlog.XLOG_HASH_SPLIT_CLEANUP -> splitCleanup(r, blockId, page);
            case HashXlog.XLOG_HASH_UPDATE_META_PAGE -> updateMetaPage(r, blockId, page);
            case HashXlog.XLOG_HASH_VACUUM_ONE_PAGE -> vacuumOnePage(r, blockId, page);
            default -> throw new RedoException("hash_redo: unknown op code 0x" + Integer.toHexString(r.rmgrInfo()),
                r.startLsn());
        };
    }

    private static RedoException noSuchBlock(WalRecord r, int blockId) {
        return HashXlog.malformed(r, "its redo does not touch block " + blockId);
    }

    /** Mirrors hash_xlog_init_meta_page. */
    static boolean initMetaPage(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            throw noSuchBlock(r, blockId);
        }
        XlHashInitMetaPage x = XlHashInitMetaPage.parse(r);
        HashPage.initMetaBuffer(page, x.numTuples(), x.procid(), x.ffactor());
        return true;
    }

    /** Mirrors hash_xlog_init_bitmap_page: the bitmap page (0), and the metapage's list of them (1). */
    static boolean initBitmapPage(WalRecord r, int blockId, byte[] page) {
        XlHashInitBitmapPage x = XlHashInitBitmapPage.parse(r);
        switch (blockId) {
            case 0 -> HashPage.initBitmapBuffer(page, x.bmsize());
            case 1 -> {
                // _hash_init puts the first bitmap page right after the initial buckets
                int numBuckets = Page.u32(page, HashPage.HASHM_MAXBUCKET) + 1;
                int nmaps = Page.u32(page, HashPage.HASHM_NMAPS);
                Page.put32(page, HashPage.mappOffset(nmaps & 0xFFFFFFFFL), numBuckets + 1);
                Page.put32(page, HashPage.HASHM_NMAPS, nmaps + 1);
            }
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /** Mirrors hash_xlog_insert: the tuple (0), the metapage's tuple count (1). */
    static boolean insert(WalRecord r, int blockId, byte[] page) {
        XlHashInsert x = XlHashInsert.parse(r);
        switch (blockId) {
            case 0 -> {
                byte[] tuple = HashXlog.insertedTuple(r);
                if (Page.addItem(page, tuple, 0, tuple.length, x.offnum(), 0) == 0) {
                    throw new RedoException("hash_xlog_insert: failed to add item", r.startLsn());
                }
            }
            case 1 -> HashPage.setNtuples(page, HashPage.ntuples(page) + 1);
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /**
     * Mirrors hash_xlog_add_ovfl_page: the new overflow page (0) linked after its left page
     * (1), its bit set in the bitmap page (2), a new bitmap page (3), the metapage (4).
     */
    static boolean addOvflPage(WalRecord r, int blockId, byte[] page) {
        XlHashAddOvflPage x = XlHashAddOvflPage.parse(r);
        switch (blockId) {
            case 0 -> {
                int bucket = HashXlog.blockU32(r, 0, "bucket");
                HashPage.initBuf(page, HashPage.INVALID_BLOCK_NUMBER, bucket, HashPage.LH_OVERFLOW_PAGE);
                HashPage.setPrevBlkno(page, block(r, 1).blkno());
            }
            case 1 -> HashPage.setNextBlkno(page, block(r, 0).blkno());
            case 2 -> HashPage.setBitmapBit(page, HashXlog.blockU32(r, 2, "bitmap bit"), true);
            case 3 -> HashPage.initBitmapBuffer(page, x.bmsize());
            case 4 -> {
                Page.put32(page, HashPage.HASHM_FIRSTFREE, HashXlog.blockU32(r, 4, "hashm_firstfree"));
                if (!x.bmpageFound()) {
                    int spare = HashPage.sparesOffset(Page.u32(page, HashPage.HASHM_OVFLPOINT) & 0xFFFFFFFFL);
                    Page.put32(page, spare, Page.u32(page, spare) + 1);
                    BlockRef newmap = r.block(3);
                    if (newmap != null) {
                        int nmaps = Page.u32(page, HashPage.HASHM_NMAPS);
                        Page.put32(page, HashPage.mappOffset(nmaps & 0xFFFFFFFFL), newmap.blkno());
                        Page.put32(page, HashPage.HASHM_NMAPS, nmaps + 1);
                        Page.put32(page, spare, Page.u32(page, spare) + 1);
                    }
                }
            }
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /**
     * Mirrors hash_xlog_split_allocate_page: the old bucket's flags and split marker (0), the
     * new bucket's primary page (1), the metapage's bucket count, masks and splitpoint (2).
     */
    static boolean splitAllocatePage(WalRecord r, int blockId, byte[] page) {
        XlHashSplitAllocatePage x = XlHashSplitAllocatePage.parse(r);
        switch (blockId) {
            case 0 -> {
                HashPage.setFlag(page, x.oldBucketFlag());
                HashPage.setPrevBlkno(page, x.newBucket());
            }
            case 1 -> HashPage.initBuf(page, x.newBucket(), x.newBucket(), x.newBucketFlag());
            case 2 -> {
                HashSplitMetaData d = HashSplitMetaData.parse(r, x);
                Page.put32(page, HashPage.HASHM_MAXBUCKET, x.newBucket());
                if ((x.flags() & HashXlog.XLH_SPLIT_META_UPDATE_MASKS) != 0) {
                    Page.put32(page, HashPage.HASHM_LOWMASK, d.lowmask());
                    Page.put32(page, HashPage.HASHM_HIGHMASK, d.highmask());
                }
                if ((x.flags() & HashXlog.XLH_SPLIT_META_UPDATE_SPLITPOINT) != 0) {
                    Page.put32(page, HashPage.sparesOffset(d.ovflpoint()), d.ovflpages());
                    Page.put32(page, HashPage.HASHM_OVFLPOINT, d.ovflpoint());
                }
            }
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /**
     * Mirrors hash_xlog_split_page: the page is always logged whole (REGBUF_FORCE_IMAGE) and
     * WalRedo restores it before any rmgr code runs; arriving here means it had no image.
     */
    static boolean splitPage(WalRecord r) {
        throw new RedoException("Hash split record did not contain a full-page image", r.startLsn());
    }

    /** Mirrors hash_xlog_split_complete: the flags of the old (0) and new (1) bucket. */
    static boolean splitComplete(WalRecord r, int blockId, byte[] page) {
        XlHashSplitComplete x = XlHashSplitComplete.parse(r);
        switch (blockId) {
            case 0 -> HashPage.setFlag(page, x.oldBucketFlag());
            case 1 -> HashPage.setFlag(page, x.newBucketFlag());
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /**
     * Mirrors hash_xlog_move_page_contents: the primary bucket page (0, a cleanup lock only),
     * the tuples added to the write page (1), the same tuples deleted from their page (2).
     */
    static boolean movePageContents(WalRecord r, int blockId, byte[] page) {
        XlHashMovePageContents x = XlHashMovePageContents.parse(r);
        switch (blockId) {
            case 0 -> {
                return false;
            }
            case 1 -> addTuples(r, x.ntups(), page, "hash_xlog_move_page_contents");
            case 2 -> Page.indexMultiDelete(page, HashXlog.offsets(r, 2));
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /** The tuples of block 1's data added at their offsets, MAXALIGNed as _hash_pgaddmultitup adds them. */
    private static void addTuples(WalRecord r, int ntups, byte[] page, String routine) {
        byte[] d = r.block(1).data();
        for (MovedTuple t : HashXlog.movedTuples(r, ntups)) {
            if (Page.addItem(page, d, t.start(), t.size(), t.offnum(), 0) == 0) {
                throw new RedoException(routine + ": failed to add item to hash index page, size " + t.size()
                    + " bytes", r.startLsn());
            }
        }
    }

    /**
     * Mirrors hash_xlog_squeeze_page: the primary bucket page (0, a cleanup lock only), the
     * write page getting the freed page's tuples (1), the freed overflow page (2), its
     * neighbours in the bucket chain (3, 4), its bit in the bitmap (5), the metapage's first
     * free bit (6). When the write page precedes the freed page, PostgreSQL relinks it as
     * block 1 and does not read block 3.
     */
    static boolean squeezePage(WalRecord r, int blockId, byte[] page) {
        XlHashSqueezePage x = XlHashSqueezePage.parse(r);
        switch (blockId) {
            case 0 -> {
                return false;
            }
            case 1 -> {
                addTuples(r, x.ntups(), page, "hash_xlog_squeeze_page");
                if (x.isPrevBucketSameWrt()) {
                    HashPage.setNextBlkno(page, x.nextblkno());
                }
            }
            case 2 -> {
                HashPage.pageInit(page);
                HashPage.setOpaque(page, HashPage.INVALID_BLOCK_NUMBER, HashPage.INVALID_BLOCK_NUMBER,
                    HashPage.INVALID_BUCKET, HashPage.LH_UNUSED_PAGE);
            }
            case 3 -> {
                if (x.isPrevBucketSameWrt()) {
                    return false;
                }
                HashPage.setNextBlkno(page, x.nextblkno());
            }
            case 4 -> HashPage.setPrevBlkno(page, x.prevblkno());
            case 5 -> HashPage.setBitmapBit(page, HashXlog.blockU32(r, 5, "bitmap bit"), false);
            case 6 -> Page.put32(page, HashPage.HASHM_FIRSTFREE, HashXlog.blockU32(r, 6, "hashm_firstfree"));
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /**
     * Mirrors hash_xlog_delete: the primary bucket page (0, a cleanup lock only), the page
     * whose tuples go (1), losing its LH_PAGE_HAS_DEAD_TUPLES hint when the record says so.
     */
    static boolean delete(WalRecord r, int blockId, byte[] page) {
        XlHashDelete x = XlHashDelete.parse(r);
        switch (blockId) {
            case 0 -> {
                return false;
            }
            case 1 -> {
                Page.indexMultiDelete(page, HashXlog.offsets(r, 1));
                if (x.clearDeadMarking()) {
                    HashPage.setFlag(page, HashPage.flag(page) & ~HashPage.LH_PAGE_HAS_DEAD_TUPLES);
                }
            }
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    /** Mirrors hash_xlog_split_cleanup. */
    static boolean splitCleanup(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            throw noSuchBlock(r, blockId);
        }
        HashPage.setFlag(page, HashPage.flag(page) & ~HashPage.LH_BUCKET_NEEDS_SPLIT_CLEANUP);
        return true;
    }

    /** Mirrors hash_xlog_update_meta_page. */
    static boolean updateMetaPage(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            throw noSuchBlock(r, blockId);
        }
        HashPage.setNtuples(page, XlHashUpdateMetaPage.parse(r).ntuples());
        return true;
    }

    /**
     * Mirrors hash_xlog_vacuum_one_page: the dead tuples removed from the bucket page (0), the
     * metapage's tuple count lowered by as many (1). (The conflict with standby snapshots is
     * not a page change.)
     */
    static boolean vacuumOnePage(WalRecord r, int blockId, byte[] page) {
        XlHashVacuumOnePage x = XlHashVacuumOnePage.parse(r);
        switch (blockId) {
            case 0 -> {
                if (x.offsets() != null) {
                    Page.indexMultiDelete(page, x.offsets());
                }
                HashPage.setFlag(page, HashPage.flag(page) & ~HashPage.LH_PAGE_HAS_DEAD_TUPLES);
            }
            case 1 -> HashPage.setNtuples(page, HashPage.ntuples(page) - x.ntuples());
            default -> throw noSuchBlock(r, blockId);
        }
        return true;
    }

    private static BlockRef block(WalRecord r, int blockId) {
        BlockRef b = r.block(blockId);
        if (b == null) {
            throw HashXlog.malformed(r, "no block " + blockId);
        }
        return b;
    }
}
