package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.GistXlog.GistxlogDelete;
import org.pageserver.redo.GistXlog.GistxlogPageDelete;
import org.pageserver.redo.GistXlog.GistxlogPageSplit;
import org.pageserver.redo.GistXlog.GistxlogPageUpdate;
import org.pageserver.redo.GistXlog.IndexTuples;
import org.pageserver.redo.GistXlog.PageUpdatePayload;

/**
 * Redo of RM_GIST_ID records (gistxlog.c, PG15), one block at a time. Every block gist_redo
 * changes gets the record's end LSN, so {@link #redo} returns true; PAGE_REUSE (a hot standby
 * conflict point) and ASSIGN_LSN (a distinct LSN for unlogged-in-this-transaction indexes)
 * register no block and change no page.
 *
 * <p>F_TUPLES_DELETED: PostgreSQL 15.18 set it on a leaf in gistvacuumpage and in both
 * gistRedoPageUpdateRecord and gistRedoDeleteRecord, though gistprunepage on the primary did
 * not (so a standby's DELETE page differed from the primary's). Later 15.x releases (15.20,
 * the PostgreSQL these tests run: checked in its gist_redo and in the images its primary
 * logs) set it nowhere, and gist.h calls it deprecated; no PG15 code reads it. Redo here
 * follows the newer releases, whose pages it must equal (gist_mask does not hide the flag);
 * after a 15.18 primary a page can differ from the primary's only in that unread bit.
 */
final class GistRedo {
    private GistRedo() {
    }

    /** Applies record {@code r} to its block {@code blockId}; true: the page gets the record's end LSN. */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        switch (r.rmgrInfo()) {
            case GistXlog.XLOG_GIST_PAGE_UPDATE -> pageUpdate(r, blockId, page);
            case GistXlog.XLOG_GIST_DELETE -> delete(r, blockId, page);
            case GistXlog.XLOG_GIST_PAGE_SPLIT -> pageSplit(r, blockId, page);
            case GistXlog.XLOG_GIST_PAGE_DELETE -> pageDelete(r, blockId, page);
            default -> throw noBlock(r, blockId);
        }
        return true;
    }

    /**
     * The part of gistRedoClearFollowRight that runs on a block restored from its image
     * (BLK_RESTORED): the image was taken before the primary set the child's NSN and cleared
     * its F_FOLLOW_RIGHT, right after inserting the record, so redo does both on the image too.
     * Other blocks are left as restored.
     */
    static void redoRestored(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        if ((info == GistXlog.XLOG_GIST_PAGE_UPDATE && blockId == 1)
            || (info == GistXlog.XLOG_GIST_PAGE_SPLIT && blockId == 0)) {
            clearFollowRight(r, page);
        }
    }

    private static RedoException noBlock(WalRecord r, int blockId) {
        return new RedoException("Gist " + GistXlog.name(r.info()) + " record changes no block " + blockId,
            r.startLsn());
    }

    /**
     * Mirrors gistRedoClearFollowRight: the left half of a split whose downlink is now in the
     * parent gets the record's LSN as its NSN and loses F_FOLLOW_RIGHT.
     */
    static void clearFollowRight(WalRecord r, byte[] page) {
        int special = Page.special(page);
        if (special < Page.SIZE_OF_PAGE_HEADER_DATA || special > Page.BLCKSZ - GistPage.SIZE_OF_OPAQUE) {
            throw new RedoException("Gist " + GistXlog.name(r.info()) + " redo: the left child has no GiST special"
                + " space (pd_special " + special + ")", r.startLsn());
        }
        GistPage.setNsn(page, r.endLsn().value());
        GistPage.setFlags(page, GistPage.flags(page) & ~GistPage.F_FOLLOW_RIGHT);
    }

    /**
     * Mirrors gistRedoPageUpdateRecord: block 0 has tuples deleted and inserted (one replaced
     * in place by PageIndexTupleOverwrite, as gistplacetopage does), block 1 is the left child
     * (gistRedoClearFollowRight).
     */
    static void pageUpdate(WalRecord r, int blockId, byte[] page) {
        GistxlogPageUpdate xlrec = GistxlogPageUpdate.parse(r);
        if (blockId == 1) {
            clearFollowRight(r, page);
            return;
        }
        if (blockId != 0) {
            throw noBlock(r, blockId);
        }
        PageUpdatePayload payload = PageUpdatePayload.parse(r, xlrec, r.block(0).data());
        IndexTuples tuples = payload.tuples();
        int next = 0;
        if (xlrec.ntodelete() == 1 && xlrec.ntoinsert() == 1) {
            if (!Page.indexTupleOverwrite(page, payload.todelete()[0], tuples.data(), tuples.offsets()[0],
                tuples.sizes()[0])) {
                throw failedToAdd(r, tuples.sizes()[0]);
            }
            next = 1;
        } else if (xlrec.ntodelete() > 0) {
            // 15.18 also set F_TUPLES_DELETED on a leaf here; see the class comment
            Page.indexMultiDelete(page, payload.todelete());
        }
        if (next < tuples.count()) {
            int off = GistPage.isEmpty(page) ? Page.FIRST_OFFSET_NUMBER : Page.maxOffsetNumber(page) + 1;
            for (int i = next; i < tuples.count(); i++, off++) {
                if (Page.addItem(page, tuples.data(), tuples.offsets()[i], tuples.sizes()[i], off, 0) == 0) {
                    throw failedToAdd(r, tuples.sizes()[i]);
                }
            }
        }
    }

    private static RedoException failedToAdd(WalRecord r, int size) {
        return new RedoException("failed to add item to GiST index page, size " + size + " bytes", r.startLsn());
    }

    /**
     * Mirrors gistRedoDeleteRecord: the tuples index scans found dead are removed
     * (gistprunepage) and F_HAS_GARBAGE cleared (15.18 also set F_TUPLES_DELETED; see the
     * class comment).
     */
    static void delete(WalRecord r, int blockId, byte[] page) {
        GistxlogDelete xlrec = GistxlogDelete.parse(r);
        if (blockId != 0) {
            throw noBlock(r, blockId);
        }
        if (xlrec.todelete().length > 0) {
            Page.indexMultiDelete(page, xlrec.todelete());
        }
        GistPage.setFlags(page, GistPage.flags(page) & ~GistPage.F_HAS_GARBAGE);
    }

    /**
     * Mirrors gistRedoPageSplitRecord: blocks 1..npage are the split pages (block 1 the
     * original one, the root in a root split), each rebuilt from scratch with its tuples, its
     * right link to the next split page (the last one to the original's right sibling) and the
     * original's NSN; all but the last get F_FOLLOW_RIGHT when the record asks for it, outside a
     * root split. Block 0 is the left child whose split this one's downlink completes.
     */
    static void pageSplit(WalRecord r, int blockId, byte[] page) {
        GistxlogPageSplit xlrec = GistxlogPageSplit.parse(r);
        if (blockId == 0) {
            clearFollowRight(r, page);
            return;
        }
        if (blockId > xlrec.npage() || r.block(blockId) == null) {
            throw noBlock(r, blockId);
        }
        int i = blockId - 1;
        int blkno = r.block(blockId).blkno();
        // as gist_redo's loop sees it: a root met at this page or before it
        boolean isRootSplit = false;
        for (int j = 1; j <= blockId; j++) {
            isRootSplit |= r.block(j) != null && r.block(j).blkno() == GistPage.GIST_ROOT_BLKNO;
        }
        IndexTuples tuples = GistXlog.decodePageSplitRecord(r, blockId, r.block(blockId).data());
        GistPage.init(page, xlrec.origleaf() && blkno != GistPage.GIST_ROOT_BLKNO ? GistPage.F_LEAF : 0);
        // gistfillbuffer from FirstOffsetNumber
        for (int t = 0; t < tuples.count(); t++) {
            if (Page.addItem(page, tuples.data(), tuples.offsets()[t], tuples.sizes()[t], t + 1, 0) == 0) {
                throw new RedoException("failed to add item to GiST index page, item " + t + " out of " + tuples.count()
                    + ", size " + tuples.sizes()[t] + " bytes", r.startLsn());
            }
        }
        boolean followRight = false;
        if (blkno == GistPage.GIST_ROOT_BLKNO) {
            GistPage.setRightlink(page, GistPage.INVALID_BLOCK_NUMBER);
        } else {
            if (i < xlrec.npage() - 1) {
                if (r.block(blockId + 1) == null) {
                    throw GistXlog.malformed(r, "no block " + (blockId + 1));
                }
                GistPage.setRightlink(page, r.block(blockId + 1).blkno());
            } else {
                GistPage.setRightlink(page, xlrec.origrlink());
            }
            followRight = i < xlrec.npage() - 1 && !isRootSplit && xlrec.markfollowright();
        }
        GistPage.setNsn(page, xlrec.orignsn());
        int flags = GistPage.flags(page);
        GistPage.setFlags(page, followRight ? flags | GistPage.F_FOLLOW_RIGHT : flags & ~GistPage.F_FOLLOW_RIGHT);
    }

    /**
     * Mirrors gistRedoPageDelete: block 0, the emptied leaf, is marked deleted with the xid
     * after which it may be reused; block 1, its parent, loses the downlink to it.
     */
    static void pageDelete(WalRecord r, int blockId, byte[] page) {
        GistxlogPageDelete xlrec = GistxlogPageDelete.parse(r);
        switch (blockId) {
            case 0 -> GistPage.setDeleted(page, xlrec.deleteXid());
            case 1 -> Page.indexTupleDelete(page, xlrec.downlinkOffset());
            default -> throw noBlock(r, blockId);
        }
    }
}
