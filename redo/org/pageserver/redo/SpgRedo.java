package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.SpgXlog.SpgxlogAddLeaf;
import org.pageserver.redo.SpgXlog.SpgxlogAddNode;
import org.pageserver.redo.SpgXlog.SpgxlogMoveLeafs;
import org.pageserver.redo.SpgXlog.SpgxlogPickSplit;
import org.pageserver.redo.SpgXlog.SpgxlogSplitTuple;
import org.pageserver.redo.SpgXlog.SpgxlogVacuumLeaf;
import org.pageserver.redo.SpgXlog.SpgxlogVacuumRedirect;
import org.pageserver.redo.SpgXlog.SpgxlogVacuumRoot;

/**
 * Redo of RM_SPGIST_ID records (spgxlog.c, PG15), one block at a time: each method does the
 * part of spg_redo's routine that changes the block asked for, and returns whether PostgreSQL
 * sets that block's LSN (it does for every block it changes; a block it does not touch is left
 * alone). PostgreSQL replays the blocks in an order that keeps every link valid for hot
 * standby readers; a page rebuilt alone needs no such order.
 *
 * <p>Every page of an SP-GiST record is changed from its own previous version and the record's
 * main data only: the block numbers it links to (a redirect's target, a parent's downlink) are
 * other blocks' tags, never their contents.
 */
final class SpgRedo {
    private SpgRedo() {
    }

    /** Applies {@code r} to its block {@code blockId}; true when PostgreSQL sets the page's LSN. */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        return switch (r.rmgrInfo()) {
            case SpgXlog.XLOG_SPGIST_ADD_LEAF -> addLeaf(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_MOVE_LEAFS -> moveLeafs(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_ADD_NODE -> addNode(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_SPLIT_TUPLE -> splitTuple(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_PICKSPLIT -> pickSplit(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_VACUUM_LEAF -> vacuumLeaf(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_VACUUM_ROOT -> vacuumRoot(r, blockId, page);
            case SpgXlog.XLOG_SPGIST_VACUUM_REDIRECT -> vacuumRedirect(r, blockId, page);
            default -> throw SpgXlog.unknown(r);
        };
    }

    /** The block number of block {@code id}, which the record must have (XLogRecGetBlockTag). */
    private static int blkno(WalRecord r, int id) {
        BlockRef b = r.block(id);
        if (b == null) {
            throw SpgXlog.malformed(r, "no block " + id);
        }
        return b.blkno();
    }

    /**
     * Mirrors addOrReplaceTuple: puts {@code tuple} at {@code offset}, which is past the last item
     * or holds a placeholder it replaces (SpGistPageAddNewItem's two outcomes).
     */
    static void addOrReplaceTuple(byte[] page, byte[] tuple, int offset) {
        if (offset <= Page.maxOffsetNumber(page)) {
            if (SpgPage.tupstate(page, Page.itemOffset(page, offset)) != SpgPage.SPGIST_PLACEHOLDER) {
                throw new IllegalStateException("SPGiST tuple to be replaced is not a placeholder");
            }
            SpgPage.setNPlaceholder(page, SpgPage.nPlaceholder(page) - 1);
            Page.indexTupleDelete(page, offset);
        }
        addItem(page, tuple, offset);
    }

    /** PageAddItem(page, tuple, size, offset, false, false), which must land at {@code offset}. */
    private static void addItem(byte[] page, byte[] tuple, int offset) {
        if (Page.addItem(page, tuple, 0, tuple.length, offset, 0) != offset) {
            throw new IllegalStateException("failed to add item of size " + tuple.length + " to SPGiST index page");
        }
    }

    /** Replaces item {@code offset} by {@code tuple}: PageIndexTupleDelete, then PageAddItem at the same offset. */
    private static void replaceTuple(byte[] page, byte[] tuple, int offset) {
        Page.indexTupleDelete(page, offset);
        addItem(page, tuple, offset);
    }

    /** Mirrors spgRedoAddLeaf: block 0 the leaf page, block 1 the parent whose downlink is set. */
    static boolean addLeaf(WalRecord r, int blockId, byte[] page) {
        SpgxlogAddLeaf x = SpgxlogAddLeaf.parse(r);
        if (blockId == 0) {
            if (x.newPage()) {
                SpgPage.initPage(page, SpgPage.SPGIST_LEAF | (x.storesNulls() ? SpgPage.SPGIST_NULLS : 0));
            }
            if (x.offnumLeaf() != x.offnumHeadLeaf()) {
                // normal cases, tuple was added by SpGistPageAddNewItem
                addOrReplaceTuple(page, x.leafTuple(), x.offnumLeaf());
                if (x.offnumHeadLeaf() != SpgPage.INVALID_OFFSET_NUMBER) {
                    SpgPage.setNextOffset(page, Page.itemOffset(page, x.offnumHeadLeaf()), x.offnumLeaf());
                }
            } else {
                // replacing a DEAD tuple
                replaceTuple(page, x.leafTuple(), x.offnumLeaf());
            }
            return true;
        }
        if (blockId == 1 && x.offnumParent() != SpgPage.INVALID_OFFSET_NUMBER) {
            SpgPage.updateNodeLink(page, x.offnumParent(), x.nodeI(), blkno(r, 0), x.offnumLeaf());
            return true;
        }
        return false;
    }

    /**
     * Mirrors spgRedoMoveLeafs: block 1 receives the tuples, block 0 gets a redirect to the last
     * one (a placeholder during a build) and placeholders for the others, block 2's downlink
     * moves to it.
     */
    static boolean moveLeafs(WalRecord r, int blockId, byte[] page) {
        SpgxlogMoveLeafs x = SpgxlogMoveLeafs.parse(r);
        switch (blockId) {
            case 1 -> {
                if (x.newPage()) {
                    SpgPage.initPage(page, SpgPage.SPGIST_LEAF | (x.storesNulls() ? SpgPage.SPGIST_NULLS : 0));
                }
                for (int i = 0; i < x.toInsert().length; i++) {
                    addOrReplaceTuple(page, x.leafTuples()[i], x.toInsert()[i]);
                }
                return true;
            }
            case 0 -> {
                boolean build = x.stateSrc().isBuild();
                SpgPage.pageIndexMultiDelete(page, x.toDelete(), build ? SpgPage.SPGIST_PLACEHOLDER : SpgPage.SPGIST_REDIRECT,
                    SpgPage.SPGIST_PLACEHOLDER, blkno(r, 1), x.lastInserted(), x.stateSrc().myXid());
                return true;
            }
            case 2 -> {
                SpgPage.updateNodeLink(page, x.offnumParent(), x.nodeI(), blkno(r, 1), x.lastInserted());
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /**
     * Mirrors spgRedoAddNode: without block 1 the inner tuple is replaced in place on block 0;
     * otherwise it goes to block 1, block 0 keeps a redirect to it (a placeholder during a build),
     * and the parent downlink on block {@code parentBlk} follows it.
     */
    static boolean addNode(WalRecord r, int blockId, byte[] page) {
        SpgxlogAddNode x = SpgxlogAddNode.parse(r);
        if (r.block(1) == null) {
            if (blockId != 0) {
                return false;
            }
            replaceTuple(page, x.innerTuple(), x.offnum());
            return true;
        }
        int blknoNew = blkno(r, 1);
        switch (blockId) {
            case 1 -> {
                if (x.newPage()) {
                    // AddNode is not used for nulls pages
                    SpgPage.initPage(page, 0);
                }
                addOrReplaceTuple(page, x.innerTuple(), x.offnumNew());
            }
            case 0 -> {
                boolean build = x.stateSrc().isBuild();
                byte[] dt = build
                    ? SpgPage.formDeadTuple(SpgPage.SPGIST_PLACEHOLDER, SpgPage.INVALID_BLOCK_NUMBER,
                        SpgPage.INVALID_OFFSET_NUMBER, x.stateSrc().myXid())
                    : SpgPage.formDeadTuple(SpgPage.SPGIST_REDIRECT, blknoNew, x.offnumNew(), x.stateSrc().myXid());
                replaceTuple(page, dt, x.offnum());
                if (build) {
                    SpgPage.setNPlaceholder(page, SpgPage.nPlaceholder(page) + 1);
                } else {
                    SpgPage.setNRedirection(page, SpgPage.nRedirection(page) + 1);
                }
            }
            case 2 -> {
                if (x.parentBlk() != 2) {
                    return false;
                }
            }
            default -> {
                return false;
            }
        }
        if (x.parentBlk() == blockId) {
            SpgPage.updateNodeLink(page, x.offnumParent(), x.nodeI(), blknoNew, x.offnumNew());
        }
        return true;
    }

    /** Mirrors spgRedoSplitTuple: the prefix tuple replaces the old one on block 0; the postfix goes to block 1 or beside it. */
    static boolean splitTuple(WalRecord r, int blockId, byte[] page) {
        SpgxlogSplitTuple x = SpgxlogSplitTuple.parse(r);
        if (blockId == 1 && !x.postfixBlkSame()) {
            if (x.newPage()) {
                // SplitTuple is not used for nulls pages
                SpgPage.initPage(page, 0);
            }
            addOrReplaceTuple(page, x.postfixTuple(), x.offnumPostfix());
            return true;
        }
        if (blockId == 0) {
            replaceTuple(page, x.prefixTuple(), x.offnumPrefix());
            if (x.postfixBlkSame()) {
                addOrReplaceTuple(page, x.postfixTuple(), x.offnumPostfix());
            }
            return true;
        }
        return false;
    }

    /**
     * Mirrors spgRedoPickSplit: the source leaf page (block 0, untouched when the root is split)
     * loses the moved tuples to a redirect to the new inner tuple and placeholders (or is
     * re-initialized); the leaf tuples go to it or the destination page (block 1) as their
     * selector byte says; the inner tuple goes to block 2, whose page is re-initialized when it
     * is the root becoming an inner page; the parent downlink (block 2 or 3) points at it.
     */
    static boolean pickSplit(WalRecord r, int blockId, byte[] page) {
        SpgxlogPickSplit x = SpgxlogPickSplit.parse(r);
        int leafFlags = SpgPage.SPGIST_LEAF | (x.storesNulls() ? SpgPage.SPGIST_NULLS : 0);
        switch (blockId) {
            case 0 -> {
                if (x.isRootSplit()) {
                    // when splitting root, we touch it only in the guise of new inner
                    return false;
                }
                if (x.initSrc()) {
                    SpgPage.initPage(page, leafFlags);
                } else if (!x.stateSrc().isBuild()) {
                    SpgPage.pageIndexMultiDelete(page, x.toDelete(), SpgPage.SPGIST_REDIRECT, SpgPage.SPGIST_PLACEHOLDER,
                        blkno(r, 2), x.offnumInner(), x.stateSrc().myXid());
                } else {
                    SpgPage.pageIndexMultiDelete(page, x.toDelete(), SpgPage.SPGIST_PLACEHOLDER,
                        SpgPage.SPGIST_PLACEHOLDER, SpgPage.INVALID_BLOCK_NUMBER, SpgPage.INVALID_OFFSET_NUMBER,
                        x.stateSrc().myXid());
                }
                restoreLeafTuples(x, false, page);
                return true;
            }
            case 1 -> {
                if (x.initDest()) {
                    SpgPage.initPage(page, leafFlags);
                }
                restoreLeafTuples(x, true, page);
                return true;
            }
            case 2 -> {
                if (x.initInner()) {
                    SpgPage.initPage(page, x.storesNulls() ? SpgPage.SPGIST_NULLS : 0);
                }
                addOrReplaceTuple(page, x.innerTuple(), x.offnumInner());
                if (x.innerIsParent()) {
                    SpgPage.updateNodeLink(page, x.offnumParent(), x.nodeI(), blkno(r, 2), x.offnumInner());
                }
                return true;
            }
            case 3 -> {
                SpgPage.updateNodeLink(page, x.offnumParent(), x.nodeI(), blkno(r, 2), x.offnumInner());
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /** The leaf tuples whose page selector byte names this page (non-zero: the destination). */
    private static void restoreLeafTuples(SpgxlogPickSplit x, boolean dest, byte[] page) {
        for (int i = 0; i < x.nInsert(); i++) {
            if ((x.leafPageSelect()[i] != 0) == dest) {
                addOrReplaceTuple(page, x.leafTuples()[i], x.toInsert()[i]);
            }
        }
    }

    /**
     * Mirrors spgRedoVacuumLeaf: dead tuples become DEAD or PLACEHOLDER; each live tuple moved
     * swaps line pointers with its destination, its old slot becoming a placeholder; chain links
     * are rewritten.
     */
    static boolean vacuumLeaf(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            return false;
        }
        SpgxlogVacuumLeaf x = SpgxlogVacuumLeaf.parse(r);
        int xid = x.stateSrc().myXid();
        SpgPage.pageIndexMultiDelete(page, x.toDead(), SpgPage.SPGIST_DEAD, SpgPage.SPGIST_DEAD,
            SpgPage.INVALID_BLOCK_NUMBER, SpgPage.INVALID_OFFSET_NUMBER, xid);
        SpgPage.pageIndexMultiDelete(page, x.toPlaceholder(), SpgPage.SPGIST_PLACEHOLDER, SpgPage.SPGIST_PLACEHOLDER,
            SpgPage.INVALID_BLOCK_NUMBER, SpgPage.INVALID_OFFSET_NUMBER, xid);
        int nline = Page.maxOffsetNumber(page);
        for (int i = 0; i < x.moveSrc().length; i++) {
            int src = x.moveSrc()[i];
            int dest = x.moveDest()[i];
            if (src < 1 || src > nline || dest < 1 || dest > nline) {
                throw new IllegalStateException("move of item " + src + " to " + dest + " on a page of " + nline
                    + " items");
            }
            int idSrc = Page.itemId(page, src);
            Page.put32(page, Page.itemIdPos(src), Page.itemId(page, dest));
            Page.put32(page, Page.itemIdPos(dest), idSrc);
        }
        SpgPage.pageIndexMultiDelete(page, x.moveSrc(), SpgPage.SPGIST_PLACEHOLDER, SpgPage.SPGIST_PLACEHOLDER,
            SpgPage.INVALID_BLOCK_NUMBER, SpgPage.INVALID_OFFSET_NUMBER, xid);
        for (int i = 0; i < x.chainSrc().length; i++) {
            SpgPage.setNextOffset(page, Page.itemOffset(page, x.chainSrc()[i]), x.chainDest()[i]);
        }
        return true;
    }

    /** Mirrors spgRedoVacuumRoot: the tuples (offsets in order) deleted from the root leaf page. */
    static boolean vacuumRoot(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            return false;
        }
        Page.indexMultiDelete(page, SpgxlogVacuumRoot.parse(r).toDelete());
        return true;
    }

    /**
     * Mirrors spgRedoVacuumRedirect: redirects become placeholders (pointer invalidated, xid
     * kept), and the placeholders from firstPlaceholder to the end of the page are deleted.
     * (PostgreSQL also resolves hot standby conflicts with newestRedirectXid: no page change.)
     */
    static boolean vacuumRedirect(WalRecord r, int blockId, byte[] page) {
        if (blockId != 0) {
            return false;
        }
        SpgxlogVacuumRedirect x = SpgxlogVacuumRedirect.parse(r);
        for (int offnum : x.itemToPlaceholder()) {
            int dt = Page.itemOffset(page, offnum);
            SpgPage.setTupstate(page, dt, SpgPage.SPGIST_PLACEHOLDER);
            SpgPage.setItemPointer(page, dt + 6, SpgPage.INVALID_BLOCK_NUMBER, SpgPage.INVALID_OFFSET_NUMBER);
        }
        int n = x.itemToPlaceholder().length;
        SpgPage.setNRedirection(page, SpgPage.nRedirection(page) - n);
        SpgPage.setNPlaceholder(page, SpgPage.nPlaceholder(page) + n);
        if (x.firstPlaceholder() != SpgPage.INVALID_OFFSET_NUMBER) {
            int max = Page.maxOffsetNumber(page);
            int count = Math.max(0, max - x.firstPlaceholder() + 1);
            int[] toDelete = new int[count];
            for (int i = 0; i < count; i++) {
                toDelete[i] = x.firstPlaceholder() + i;
            }
            SpgPage.setNPlaceholder(page, SpgPage.nPlaceholder(page) - (max - x.firstPlaceholder() + 1));
            Page.indexMultiDelete(page, toDelete);
        }
        return true;
    }
}
