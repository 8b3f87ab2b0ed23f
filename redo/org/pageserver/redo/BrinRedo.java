package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.BrinXlog.XlBrinCreateidx;
import org.pageserver.redo.BrinXlog.XlBrinDesummarize;
import org.pageserver.redo.BrinXlog.XlBrinInsert;
import org.pageserver.redo.BrinXlog.XlBrinRevmapExtend;
import org.pageserver.redo.BrinXlog.XlBrinSamepageUpdate;
import org.pageserver.redo.BrinXlog.XlBrinUpdate;

/**
 * Redo of RM_BRIN_ID records (brin_xlog.c, PG15), one block at a time. Every block brin_redo
 * reads it changes and stamps with the record's LSN, so {@link #redo} always answers true.
 */
final class BrinRedo {
    private BrinRedo() {
    }

    /**
     * Applies record {@code r} to its block {@code blockId}. A page the record initializes
     * (XLOG_BRIN_INIT_PAGE, CREATE_INDEX, the new revmap page) arrives zeroed.
     *
     * @return true: the page takes the record's LSN
     */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        switch (info & BrinXlog.XLOG_BRIN_OPMASK) {
            case BrinXlog.XLOG_BRIN_CREATE_INDEX -> createidx(r, blockId, page);
            case BrinXlog.XLOG_BRIN_INSERT -> insertUpdate(r, XlBrinInsert.parse(r), blockId, page);
            case BrinXlog.XLOG_BRIN_UPDATE -> update(r, blockId, page);
            case BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE -> samepageUpdate(r, blockId, page);
            case BrinXlog.XLOG_BRIN_REVMAP_EXTEND -> revmapExtend(r, blockId, page);
            case BrinXlog.XLOG_BRIN_DESUMMARIZE -> desummarizePage(r, blockId, page);
            default -> throw new RedoException("brin_redo: unknown op code 0x" + Integer.toHexString(info),
                r.startLsn());
        }
        return true;
    }

    /** A block brin_redo does not read for this record type. */
    private static RedoException noSuchBlock(WalRecord r, int blockId) {
        return BrinXlog.malformed(r, "unexpected block " + blockId);
    }

    /** Mirrors brin_xlog_createidx: block 0 becomes the metapage. */
    static void createidx(WalRecord r, int blockId, byte[] page) {
        XlBrinCreateidx xlrec = XlBrinCreateidx.parse(r);
        if (blockId != 0) {
            throw noSuchBlock(r, blockId);
        }
        BrinPage.metapageInit(page, xlrec.pagesPerRange(), xlrec.version());
    }

    /**
     * Mirrors brin_xlog_insert_update: the new tuple into block 0 (initialized first under
     * XLOG_BRIN_INIT_PAGE), and block 1's revmap entry for the range pointed at it.
     */
    static void insertUpdate(WalRecord r, XlBrinInsert xlrec, int blockId, byte[] page) {
        if (blockId == 0) {
            if ((r.rmgrInfo() & BrinXlog.XLOG_BRIN_INIT_PAGE) != 0) {
                BrinPage.pageInit(page, BrinPage.BRIN_PAGETYPE_REGULAR);
            }
            byte[] tuple = BrinXlog.brinTuple(r, 0);
            int offnum = xlrec.offnum();
            if (Page.maxOffsetNumber(page) + 1 < offnum) {
                throw new RedoException("brin_xlog_insert_update: invalid max offset number " + offnum + " (page has "
                    + Page.maxOffsetNumber(page) + ")", r.startLsn());
            }
            if (Page.addItem(page, tuple, 0, tuple.length, offnum, Page.PAI_OVERWRITE) == 0) {
                throw new RedoException("brin_xlog_insert_update: failed to add tuple at offset " + offnum,
                    r.startLsn());
            }
        } else if (blockId == 1) {
            // the regular page's block number is block 0's, from the record
            BlockRef regular = r.block(0);
            if (regular == null) {
                throw BrinXlog.malformed(r, "no block 0");
            }
            BrinPage.setHeapBlockItemptr(page, xlrec.pagesPerRange(), xlrec.heapBlk(), regular.blkno(), xlrec.offnum());
        } else {
            throw noSuchBlock(r, blockId);
        }
    }

    /** Mirrors brin_xlog_update: the old tuple out of block 2, then as an insert. */
    static void update(WalRecord r, int blockId, byte[] page) {
        XlBrinUpdate xlrec = XlBrinUpdate.parse(r);
        if (blockId == 2) {
            Page.indexTupleDeleteNoCompact(page, xlrec.oldOffnum());
        } else {
            insertUpdate(r, xlrec.insert(), blockId, page);
        }
    }

    /** Mirrors brin_xlog_samepage_update: the tuple replaced in place. */
    static void samepageUpdate(WalRecord r, int blockId, byte[] page) {
        XlBrinSamepageUpdate xlrec = XlBrinSamepageUpdate.parse(r);
        if (blockId != 0) {
            throw noSuchBlock(r, blockId);
        }
        byte[] tuple = BrinXlog.brinTuple(r, 0);
        if (!Page.indexTupleOverwrite(page, xlrec.offnum(), tuple, 0, tuple.length)) {
            throw new RedoException("brin_xlog_samepage_update: failed to replace tuple at offset " + xlrec.offnum(),
                r.startLsn());
        }
    }

    /**
     * Mirrors brin_xlog_revmap_extend: the metapage's lastRevmapPage advanced to targetBlk (and
     * its pd_lower set, which pre-v11 metapages lacked); block 1 becomes an empty revmap page.
     */
    static void revmapExtend(WalRecord r, int blockId, byte[] page) {
        XlBrinRevmapExtend xlrec = XlBrinRevmapExtend.parse(r);
        if (blockId == 0) {
            BrinPage.setLastRevmapPage(page, xlrec.targetBlk());
            BrinPage.setMetaLower(page);
        } else if (blockId == 1) {
            BrinPage.pageInit(page, BrinPage.BRIN_PAGETYPE_REVMAP);
        } else {
            throw noSuchBlock(r, blockId);
        }
    }

    /** Mirrors brin_xlog_desummarize_page: the revmap entry made invalid, the summary tuple removed. */
    static void desummarizePage(WalRecord r, int blockId, byte[] page) {
        XlBrinDesummarize xlrec = XlBrinDesummarize.parse(r);
        if (blockId == 0) {
            BrinPage.setHeapBlockItemptr(page, xlrec.pagesPerRange(), xlrec.heapBlk(), 0, 0);
        } else if (blockId == 1) {
            Page.indexTupleDeleteNoCompact(page, xlrec.regOffset());
        } else {
            throw noSuchBlock(r, blockId);
        }
    }
}
