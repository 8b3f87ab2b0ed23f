package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.GinXlog.GinxlogCreatePostingTree;
import org.pageserver.redo.GinXlog.GinxlogDeleteListPages;
import org.pageserver.redo.GinXlog.GinxlogDeletePage;
import org.pageserver.redo.GinXlog.GinxlogInsert;
import org.pageserver.redo.GinXlog.GinxlogInsertDataInternal;
import org.pageserver.redo.GinXlog.GinxlogInsertEntry;
import org.pageserver.redo.GinXlog.GinxlogInsertListPage;
import org.pageserver.redo.GinXlog.GinxlogRecompressDataLeaf;
import org.pageserver.redo.GinXlog.GinxlogSplit;
import org.pageserver.redo.GinXlog.GinxlogUpdateMeta;

/**
 * Redo of RM_GIN_ID records (ginxlog.c, PG15), one block at a time: each method does the part
 * of gin_redo's routine for that record type that changes the block asked for, and says
 * whether PostgreSQL sets that block's LSN. Blocks a routine only requires as images (the
 * pages of a split, an entry page vacuumed) arrive restored by {@link WalRedo}; reaching the
 * routine without one is PostgreSQL's "did not contain a full-page image" error.
 */
final class GinRedo {
    private GinRedo() {
    }

    /** @return true when PostgreSQL sets the block's LSN (PageSetLSN) */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        return switch (r.rmgrInfo()) {
            case GinXlog.XLOG_GIN_CREATE_PTREE -> blockId == 0 && createPTree(r, page);
            case GinXlog.XLOG_GIN_INSERT -> insert(r, blockId, page);
            case GinXlog.XLOG_GIN_SPLIT -> split(r, blockId, page);
            case GinXlog.XLOG_GIN_VACUUM_PAGE -> vacuumPage(r, blockId);
            case GinXlog.XLOG_GIN_VACUUM_DATA_LEAF_PAGE -> blockId == 0 && vacuumDataLeafPage(r, page);
            case GinXlog.XLOG_GIN_DELETE_PAGE -> deletePage(r, blockId, page);
            case GinXlog.XLOG_GIN_UPDATE_META_PAGE -> updateMetapage(r, blockId, page);
            case GinXlog.XLOG_GIN_INSERT_LISTPAGE -> blockId == 0 && insertListPage(r, page);
            case GinXlog.XLOG_GIN_DELETE_LISTPAGE -> deleteListPages(r, blockId, page);
            default -> throw new RedoException("gin_redo: unknown op code " + r.rmgrInfo(), r.startLsn());
        };
    }

    /** Mirrors ginRedoClearIncompleteSplit: the child whose split an insert into its parent finishes. */
    static boolean clearIncompleteSplit(byte[] page) {
        GinPage.setFlags(page, GinPage.flags(page) & ~GinPage.GIN_INCOMPLETE_SPLIT);
        return true;
    }

    /** Mirrors ginRedoCreatePTree: a new posting tree root, a data leaf holding the posting list. */
    static boolean createPTree(WalRecord r, byte[] page) {
        GinxlogCreatePostingTree x = GinxlogCreatePostingTree.parse(r);
        GinPage.initPage(page, GinPage.GIN_DATA | GinPage.GIN_LEAF | GinPage.GIN_COMPRESSED);
        System.arraycopy(x.postingList(), 0, page, GinPage.DATA_OFFSET, x.size());
        GinPage.setDataSize(page, x.size());
        return true;
    }

    /**
     * Mirrors ginRedoInsert: block 1 is the child whose split a downlink insert finishes; block 0
     * gets the entry tuple, the posting item, or the recompressed leaf segments.
     */
    static boolean insert(WalRecord r, int blockId, byte[] page) {
        GinxlogInsert x = GinxlogInsert.parse(r);
        if (blockId == 1) {
            return !x.isLeaf() && clearIncompleteSplit(page);
        }
        if (blockId != 0) {
            return false;
        }
        byte[] d = GinXlog.redoData(r, 0);
        boolean dataPage = (GinPage.flags(page) & GinPage.GIN_DATA) != 0;
        if (dataPage != x.isData()) {
            throw new RedoException("Gin INSERT for a" + (x.isData() ? " data" : "n entry") + " page on a"
                + (dataPage ? " data" : "n entry") + " page", r.startLsn());
        }
        if (!x.isData()) {
            insertEntry(r, page, x, GinxlogInsertEntry.parse(r, d));
        } else if (x.isLeaf()) {
            GinRecompress.recompress(page, GinxlogRecompressDataLeaf.parse(r, d));
        } else {
            // ginRedoInsertData: the downlink to the split child now points at its right
            // half; the new item (pointing at the left half) goes in before it
            GinxlogInsertDataInternal data = GinxlogInsertDataInternal.parse(r, d);
            if (data.offset() < Page.FIRST_OFFSET_NUMBER || data.offset() > GinPage.maxoff(page)) {
                throw new RedoException("Gin INSERT: posting item " + data.offset() + " is not on a page of "
                    + GinPage.maxoff(page), r.startLsn());
            }
            GinPage.setBlockId(page, GinPage.postingItem(data.offset()), x.rightChildBlkno());
            GinPage.addPostingItem(page, data.newitem(), data.offset());
        }
        return true;
    }

    /** Mirrors ginRedoInsertEntry. */
    static void insertEntry(WalRecord r, byte[] page, GinxlogInsert x, GinxlogInsertEntry data) {
        int offset = data.offset();
        if (!x.isLeaf()) {
            // update the link to the right page after a split: GinSetDownlink (offset number 0)
            int item = Page.lpOff(Page.itemId(page, checkedOffset(r, page, offset)));
            GinPage.setBlockId(page, item, x.rightChildBlkno());
            Page.put16(page, item + 4, 0);
        }
        if (data.isDelete()) {
            Page.indexTupleDelete(page, checkedOffset(r, page, offset));
        }
        if (Page.addItem(page, data.tuple(), 0, data.tuple().length, offset, 0) == 0) {
            throw new RedoException("failed to add item to index page (Gin INSERT at offset " + offset + ")",
                r.startLsn());
        }
    }

    private static int checkedOffset(WalRecord r, byte[] page, int offset) {
        if (offset < Page.FIRST_OFFSET_NUMBER || offset > Page.maxOffsetNumber(page)) {
            throw new RedoException("Gin INSERT: offset " + offset + " is not on a page of " + Page.maxOffsetNumber(page)
                + " items", r.startLsn());
        }
        return offset;
    }

    /**
     * Mirrors ginRedoSplit: the left, right and (root split) root pages come as images; only the
     * child whose split this one finishes (block 3, above the leaves) is changed by redo.
     */
    static boolean split(WalRecord r, int blockId, byte[] page) {
        GinxlogSplit x = GinxlogSplit.parse(r);
        switch (blockId) {
            case 3 -> {
                return !x.isLeaf() && clearIncompleteSplit(page);
            }
            case 0, 1 -> throw new RedoException("GIN split record did not contain a full-page image of "
                + (blockId == 0 ? "left" : "right") + " page", r.startLsn());
            case 2 -> {
                if (x.isRoot()) {
                    throw new RedoException("GIN split record did not contain a full-page image of root page",
                        r.startLsn());
                }
                return false;
            }
            default -> {
                return false;
            }
        }
    }

    /** Mirrors ginRedoVacuumPage: the page is a full image, like XLOG_FPI. */
    static boolean vacuumPage(WalRecord r, int blockId) {
        if (blockId == 0) {
            throw new RedoException("replay of gin entry tree page vacuum did not restore the page", r.startLsn());
        }
        return false;
    }

    /** Mirrors ginRedoVacuumDataLeafPage. */
    static boolean vacuumDataLeafPage(WalRecord r, byte[] page) {
        GinRecompress.recompress(page, GinxlogRecompressDataLeaf.parse(r, GinXlog.redoData(r, 0)));
        return true;
    }

    /**
     * Mirrors ginRedoDeletePage: the left sibling (block 2) skips the deleted page (block 0),
     * which is marked deleted with the xid that may still see it; the parent (block 1) loses
     * its downlink.
     */
    static boolean deletePage(WalRecord r, int blockId, byte[] page) {
        GinxlogDeletePage x = GinxlogDeletePage.parse(r);
        switch (blockId) {
            case 2 -> GinPage.setRightlink(page, x.rightLink());
            case 0 -> {
                GinPage.setFlags(page, GinPage.flags(page) | GinPage.GIN_DELETED);
                Page.put32(page, 20, x.deleteXid()); // GinPageSetDeleteXid: pd_prune_xid
            }
            case 1 -> GinPage.deletePostingItem(page, x.parentOffset());
            default -> {
                return false;
            }
        }
        return true;
    }

    /**
     * Mirrors ginRedoUpdateMetapage: the metapage is rebuilt from the record unconditionally;
     * block 1 is the pending list's tail, which gets the tuples of one heap row, or the new
     * sublist as right sibling.
     */
    static boolean updateMetapage(WalRecord r, int blockId, byte[] page) {
        GinxlogUpdateMeta x = GinxlogUpdateMeta.parse(r);
        if (blockId == 0) {
            GinPage.initMetabuffer(page);
            System.arraycopy(x.metadata(), 0, page, Page.SIZE_OF_PAGE_HEADER_DATA, x.metadata().length);
            return true;
        }
        if (blockId != 1) {
            return false;
        }
        if (x.ntuples() > 0) {
            byte[] d = GinXlog.redoData(r, 1);
            int off = Page.maxOffsetNumber(page) == 0 ? Page.FIRST_OFFSET_NUMBER : Page.maxOffsetNumber(page) + 1;
            addTuples(r, page, d, GinXlog.indexTuples(r, 1, d, x.ntuples()), off);
            // one more heap tuple in the pending list
            GinPage.setMaxoff(page, GinPage.maxoff(page) + 1);
            return true;
        }
        if (x.prevTail() != GinXlog.INVALID_BLOCK_NUMBER) {
            GinPage.setRightlink(page, x.newRightlink());
            return true;
        }
        return false;
    }

    /** The tuples of {@code d} within {@code bounds} ({@link GinXlog#indexTuples}) added from offset {@code off} on. */
    private static void addTuples(WalRecord r, byte[] page, byte[] d, int[] bounds, int off) {
        for (int i = 0; i + 1 < bounds.length; i++) {
            if (Page.addItem(page, d, bounds[i], bounds[i + 1] - bounds[i], off, 0) == 0) {
                throw new RedoException("failed to add item to index page (Gin pending list, offset " + off + ")",
                    r.startLsn());
            }
            off++;
        }
    }

    /** Mirrors ginRedoInsertListPage: a pending list page, always initialized afresh. */
    static boolean insertListPage(WalRecord r, byte[] page) {
        GinxlogInsertListPage x = GinxlogInsertListPage.parse(r);
        GinPage.initPage(page, GinPage.GIN_LIST);
        GinPage.setRightlink(page, x.rightlink());
        if (x.rightlink() == GinXlog.INVALID_BLOCK_NUMBER) {
            // the tail of a sublist: its last heap row is whole
            GinPage.setFlags(page, GinPage.flags(page) | GinPage.GIN_LIST_FULLROW);
            GinPage.setMaxoff(page, 1);
        } else {
            GinPage.setMaxoff(page, 0);
        }
        byte[] d = GinXlog.redoData(r, 0);
        addTuples(r, page, d, GinXlog.indexTuples(r, 0, d, x.ntuples()), Page.FIRST_OFFSET_NUMBER);
        return true;
    }

    /**
     * Mirrors ginRedoDeleteListPages: the metapage rebuilt from the record, the pending list
     * pages cut from its head (blocks 1..ndeleted) initialized as empty deleted pages.
     */
    static boolean deleteListPages(WalRecord r, int blockId, byte[] page) {
        GinxlogDeleteListPages x = GinxlogDeleteListPages.parse(r);
        if (blockId == 0) {
            GinPage.initMetabuffer(page);
            System.arraycopy(x.metadata(), 0, page, Page.SIZE_OF_PAGE_HEADER_DATA, x.metadata().length);
            return true;
        }
        if (blockId > x.ndeleted()) {
            return false;
        }
        GinPage.initPage(page, GinPage.GIN_DELETED);
        return true;
    }
}
