package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.NbtXlog.DeletedAndUpdated;
import org.pageserver.redo.NbtXlog.XlBtreeDedup;
import org.pageserver.redo.NbtXlog.XlBtreeDelete;
import org.pageserver.redo.NbtXlog.XlBtreeInsert;
import org.pageserver.redo.NbtXlog.XlBtreeMarkPageHalfdead;
import org.pageserver.redo.NbtXlog.XlBtreeMetadata;
import org.pageserver.redo.NbtXlog.XlBtreeNewroot;
import org.pageserver.redo.NbtXlog.XlBtreeSplit;
import org.pageserver.redo.NbtXlog.XlBtreeUnlinkPage;
import org.pageserver.redo.NbtXlog.XlBtreeVacuum;

/**
 * Redo of RM_BTREE_ID records (nbtxlog.c btree_redo, PG15), one block at a time, every record
 * type: inserts (leaf, upper, meta, posting list splits), page splits (with posting list
 * splits), new roots, meta cleanup, deduplication, vacuum and delete (with posting list
 * updates), and page deletion (half-dead marking and unlinking). XLOG_BTREE_REUSE_PAGE registers
 * no block (a standby only resolves its snapshot conflicts). The records' main data and the
 * metapage's data are read through {@link NbtXlog}.
 *
 * <pre>
 * BTPageOpaqueData (special space, 16 bytes): btpo_prev u32, btpo_next u32, btpo_level u32,
 *                                              btpo_flags u16, btpo_cycleid u16
 * BTMetaPageData (after the page header): magic, version, root, level, fastroot, fastlevel,
 *   last_cleanup_num_delpages (u32 each), pad, last_cleanup_num_heap_tuples f64, allequalimage bool
 * </pre>
 */
final class BtreeRedo {
    static final int BTP_LEAF = 1;
    static final int BTP_ROOT = 2;
    static final int BTP_META = 8;
    static final int BTP_SPLIT_END = 32;
    static final int BTP_HAS_GARBAGE = 64;
    static final int BTP_INCOMPLETE_SPLIT = 128;
    static final int SIZEOF_OPAQUE = 16;
    static final int BTREE_MAGIC = 0x053162;
    static final int SIZEOF_META = 48;
    static final int P_NONE = 0;
    static final int P_HIKEY = 1;
    static final int P_FIRSTKEY = 2;
    static final int INDEX_SIZE_MASK = 0x1FFF;

    private BtreeRedo() {
    }

    /** True for every record type PG15 writes (0xF0 is none). */
    static boolean canRedo(WalRecord r) {
        return r.rmgrInfo() != 0xF0;
    }

    static void redo(WalRecord r, int blockId, byte[] page) {
        switch (r.rmgrInfo()) {
            case NbtXlog.XLOG_BTREE_INSERT_LEAF, NbtXlog.XLOG_BTREE_INSERT_UPPER, NbtXlog.XLOG_BTREE_INSERT_META,
                NbtXlog.XLOG_BTREE_INSERT_POST ->
                insert(r, blockId, page);
            case NbtXlog.XLOG_BTREE_SPLIT_L -> split(r, blockId, page, true);
            case NbtXlog.XLOG_BTREE_SPLIT_R -> split(r, blockId, page, false);
            case NbtXlog.XLOG_BTREE_NEWROOT -> newRoot(r, blockId, page);
            case NbtXlog.XLOG_BTREE_META_CLEANUP -> restoreMeta(r, blockId, page);
            case NbtXlog.XLOG_BTREE_VACUUM, NbtXlog.XLOG_BTREE_DELETE -> vacuum(r, page);
            case NbtXlog.XLOG_BTREE_DEDUP -> dedup(r, page);
            case NbtXlog.XLOG_BTREE_MARK_PAGE_HALFDEAD -> markHalfDead(r, blockId, page);
            case NbtXlog.XLOG_BTREE_UNLINK_PAGE, NbtXlog.XLOG_BTREE_UNLINK_PAGE_META -> unlink(r, blockId, page);
            default -> throw new RedoException("Btree " + NbtXlog.type(r) + " record touches no page", r.startLsn());
        }
    }

    static int special(byte[] p) {
        return Page.special(p);
    }

    static int flags(byte[] p) {
        return Page.u16(p, special(p) + 12);
    }

    static void setFlags(byte[] p, int f) {
        Page.put16(p, special(p) + 12, f);
    }

    /** _bt_pageinit: an empty page with BTPageOpaqueData as special space. */
    static void pageInit(byte[] p) {
        Page.init(p, SIZEOF_OPAQUE);
    }

    static void setOpaque(byte[] p, int prev, int next, int level, int flags, int cycleId) {
        int s = special(p);
        Page.put32(p, s, prev);
        Page.put32(p, s + 4, next);
        Page.put32(p, s + 8, level);
        Page.put16(p, s + 12, flags);
        Page.put16(p, s + 14, cycleId);
    }

    /** Mirrors btree_xlog_insert (with a posting list split for INSERT_POST). */
    static void insert(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        if (blockId == 1 && info != NbtXlog.XLOG_BTREE_INSERT_LEAF) {
            clearIncompleteSplit(page);
            return;
        }
        if (blockId == 2 && info == NbtXlog.XLOG_BTREE_INSERT_META) {
            restoreMeta(r, blockId, page);
            return;
        }
        int offnum = XlBtreeInsert.parse(r).offnum();
        byte[] item = r.block(0).data();
        if (info == NbtXlog.XLOG_BTREE_INSERT_POST) {
            // a posting list split: _bt_swap_posting on the posting list just before offnum
            WalRedo.need(r, item, 10);
            int postingoff = Page.u16(item, 0);
            byte[] newItem = java.util.Arrays.copyOfRange(item, 2, item.length);
            int oposting = Page.lpOff(Page.itemId(page, offnum - 1));
            byte[] nposting = NbtDedup.swapPosting(r, newItem, page, oposting, postingoff);
            System.arraycopy(nposting, 0, page, oposting, Page.maxAlign(NbtDedup.tupleSize(nposting, 0)));
            if (Page.addItem(page, newItem, 0, newItem.length, offnum, 0) != offnum) {
                throw new RedoException("failed to add posting split new item", r.startLsn());
            }
            return;
        }
        WalRedo.need(r, item, NbtXlog.SIZE_OF_INDEX_TUPLE);
        if (Page.addItem(page, item, 0, item.length, offnum, 0) != offnum) {
            throw new RedoException("btree_xlog_insert: failed to add new item", r.startLsn());
        }
    }

    static final int BTP_DELETED = 4;
    static final int BTP_HALF_DEAD = 16;
    static final int BTP_HAS_FULLXID = 256;

    /** A leaf made half-dead: its only item, a pivot high key pointing at the subtree's top parent. */
    static void halfDeadLeaf(WalRecord r, byte[] page, int prev, int next, int topParent) {
        pageInit(page);
        setOpaque(page, prev, next, 0, BTP_HALF_DEAD | BTP_LEAF, 0);
        byte[] t = new byte[8];
        Page.put16(t, 0, topParent >>> 16);
        Page.put16(t, 2, topParent);
        Page.put16(t, 4, 0);
        Page.put16(t, 6, 8 | NbtDedup.INDEX_ALT_TID_MASK);
        if (Page.addItem(page, t, 0, 8, P_HIKEY, 0) != P_HIKEY) {
            throw new RedoException("could not add dummy high key to half-dead page", r.startLsn());
        }
    }

    /**
     * Mirrors btree_xlog_mark_page_halfdead. Block 0 is the leaf (rebuilt), block 1 the parent,
     * whose downlink to the leaf is replaced by the next one.
     */
    static void markHalfDead(WalRecord r, int blockId, byte[] page) {
        XlBtreeMarkPageHalfdead x = XlBtreeMarkPageHalfdead.parse(r);
        if (blockId == 1) {
            int poffset = x.poffset();
            int next = Page.lpOff(Page.itemId(page, poffset + 1));
            int cur = Page.lpOff(Page.itemId(page, poffset));
            System.arraycopy(page, next, page, cur, 4); // BTreeTupleSetDownLink: the block number of t_tid
            Page.indexTupleDelete(page, poffset + 1);
            return;
        }
        halfDeadLeaf(r, page, x.leftblk(), x.rightblk(), x.topparent());
    }

    /**
     * Mirrors btree_xlog_unlink_page. Block 0 the deleted page, 1 its left sibling, 2 its right
     * sibling, 3 the leaf of the subtree (when a parent was deleted), 4 the metapage
     * (UNLINK_PAGE_META).
     */
    static void unlink(WalRecord r, int blockId, byte[] page) {
        XlBtreeUnlinkPage x = XlBtreeUnlinkPage.parse(r);
        int leftsib = x.leftsib();
        int rightsib = x.rightsib();
        int level = x.level();
        switch (blockId) {
            case 1 -> Page.put32(page, special(page) + 4, rightsib);
            case 2 -> Page.put32(page, special(page), leftsib);
            case 3 -> halfDeadLeaf(r, page, x.leafleftsib(), x.leafrightsib(), x.leaftopparent());
            case 4 -> restoreMeta(r, blockId, page);
            default -> {
                pageInit(page);
                setOpaque(page, leftsib, rightsib, level, 0, 0);
                // BTPageSetDeleted
                setFlags(page, (flags(page) & ~BTP_HALF_DEAD) | BTP_DELETED | BTP_HAS_FULLXID
                    | (level == 0 ? BTP_LEAF : 0));
                Page.setLower(page, Page.SIZE_OF_PAGE_HEADER_DATA + 8);
                Page.setUpper(page, special(page));
                // BTPageSetDeleted: the safexid as the page's only contents
                Page.put32(page, Page.SIZE_OF_PAGE_HEADER_DATA, (int) x.safexid());
                Page.put32(page, Page.SIZE_OF_PAGE_HEADER_DATA + 4, (int) (x.safexid() >>> 32));
            }
        }
    }

    /** _bt_clear_incomplete_split on the child one level down. */
    static void clearIncompleteSplit(byte[] page) {
        setFlags(page, flags(page) & ~BTP_INCOMPLETE_SPLIT);
    }

    /** Mirrors _bt_restore_meta: the metapage rebuilt from xl_btree_metadata. */
    static void restoreMeta(WalRecord r, int blockId, byte[] page) {
        XlBtreeMetadata d = XlBtreeMetadata.parse(r, blockId);
        java.util.Arrays.fill(page, (byte) 0);
        pageInit(page);
        int md = Page.SIZE_OF_PAGE_HEADER_DATA;
        Page.put32(page, md, BTREE_MAGIC);
        Page.put32(page, md + 4, d.version());
        Page.put32(page, md + 8, d.root());
        Page.put32(page, md + 12, d.level());
        Page.put32(page, md + 16, d.fastroot());
        Page.put32(page, md + 20, d.fastlevel());
        Page.put32(page, md + 24, d.lastCleanupNumDelpages());
        long minusOne = Double.doubleToLongBits(-1.0);
        Page.put32(page, md + 32, (int) minusOne);
        Page.put32(page, md + 36, (int) (minusOne >>> 32));
        page[md + 40] = d.allequalimage();
        setOpaque(page, 0, 0, 0, BTP_META, 0);
        Page.setLower(page, md + SIZEOF_META);
    }

    /** Mirrors btree_xlog_newroot. */
    static void newRoot(WalRecord r, int blockId, byte[] page) {
        if (blockId == 1) {
            clearIncompleteSplit(page);
            return;
        }
        if (blockId == 2) {
            restoreMeta(r, blockId, page);
            return;
        }
        int level = XlBtreeNewroot.parse(r).level();
        pageInit(page);
        setOpaque(page, P_NONE, P_NONE, level, BTP_ROOT | (level == 0 ? BTP_LEAF : 0), 0);
        if (level > 0) {
            restorePage(r, page, r.block(0).data());
        }
    }

    /** Mirrors _bt_restore_page: items added in reverse so they keep their physical order. */
    static void restorePage(WalRecord r, byte[] page, byte[] from) {
        if (from == null) {
            return;
        }
        java.util.List<int[]> items = new java.util.ArrayList<>();
        int pos = 0;
        while (pos < from.length) {
            if (pos + 8 > from.length) {
                throw new RedoException("_bt_restore_page: truncated index tuple", r.startLsn());
            }
            int size = Page.maxAlign(Page.u16(from, pos + 6) & INDEX_SIZE_MASK);
            if (size == 0 || pos + size > from.length) {
                throw new RedoException("_bt_restore_page: bad index tuple size " + size, r.startLsn());
            }
            items.add(new int[] {pos, size});
            pos += size;
        }
        int n = items.size();
        for (int i = n - 1; i >= 0; i--) {
            int[] it = items.get(i);
            if (Page.addItem(page, from, it[0], it[1], n - i, 0) == 0) {
                throw new RedoException("_bt_restore_page: cannot add item to page", r.startLsn());
            }
        }
    }

    /**
     * Mirrors btree_xlog_split: block 0 is the original (left)
     * page, rebuilt in item order on a temporary page; block 1 the new right page, rebuilt from
     * scratch; block 2 the right sibling, whose left link is fixed; block 3 the child whose
     * incomplete split this insertion finishes.
     */
    static void split(WalRecord r, int blockId, byte[] page, boolean newItemOnLeft) {
        XlBtreeSplit x = XlBtreeSplit.parse(r);
        int level = x.level();
        int firstRightOff = x.firstrightoff();
        int newItemOff = x.newitemoff();
        boolean isLeaf = level == 0;
        BlockRef left = r.block(0);
        BlockRef right = r.block(1);
        BlockRef sibling = r.block(2);
        switch (blockId) {
            case 3 -> clearIncompleteSplit(page);
            case 2 -> Page.put32(page, special(page), right.blkno());
            case 1 -> {
                pageInit(page);
                setOpaque(page, left.blkno(), sibling == null ? P_NONE : sibling.blkno(), level, isLeaf ? BTP_LEAF : 0, 0);
                restorePage(r, page, right.data());
            }
            case 0 -> {
                byte[] d = left.data();
                WalRedo.need(r, d, 8);
                int postingoff = x.postingoff();
                int pos = 0;
                int newItemPos = -1;
                int newItemSize = 0;
                int replacePostingOff = -1;
                byte[] nposting = null;
                if (x.newItemLogged(newItemOnLeft)) {
                    newItemPos = 0;
                    newItemSize = Page.maxAlign(Page.u16(d, 6) & INDEX_SIZE_MASK);
                    pos += newItemSize;
                    if (postingoff != 0) {
                        // the posting list before the new item splits (_bt_swap_posting)
                        replacePostingOff = newItemOff - 1;
                        d = d.clone();
                        byte[] newItem = java.util.Arrays.copyOfRange(d, 0, newItemSize);
                        int oposting = Page.lpOff(Page.itemId(page, replacePostingOff));
                        nposting = NbtDedup.swapPosting(r, newItem, page, oposting, postingoff);
                        System.arraycopy(newItem, 0, d, 0, newItemSize);
                    }
                }
                WalRedo.need(r, d, pos + 8);
                int hikeySize = Page.maxAlign(Page.u16(d, pos + 6) & INDEX_SIZE_MASK);
                if (pos + hikeySize != d.length) {
                    throw new RedoException("btree_xlog_split: left page data has " + d.length + " bytes", r.startLsn());
                }
                byte[] temp = new byte[Page.BLCKSZ];
                int specialSize = Page.BLCKSZ - special(page);
                Page.init(temp, specialSize);
                System.arraycopy(page, special(page), temp, special(temp), specialSize);
                int next = Page.u32(page, special(page) + 4);
                int firstData = next == P_NONE ? P_HIKEY : P_FIRSTKEY;
                int leftOff = P_HIKEY;
                add(r, temp, d, pos, hikeySize, leftOff++);
                int off;
                for (off = firstData; off < firstRightOff; off++) {
                    if (off == replacePostingOff) {
                        add(r, temp, nposting, 0, Page.maxAlign(NbtDedup.tupleSize(nposting, 0)), leftOff++);
                        continue;
                    }
                    if (newItemOnLeft && off == newItemOff) {
                        add(r, temp, d, newItemPos, newItemSize, leftOff++);
                    }
                    int id = Page.itemId(page, off);
                    add(r, temp, page, Page.lpOff(id), Page.lpLen(id), leftOff++);
                }
                if (newItemOnLeft && off == newItemOff) {
                    add(r, temp, d, newItemPos, newItemSize, leftOff);
                }
                System.arraycopy(temp, 0, page, 0, Page.BLCKSZ);
                int s = special(page);
                Page.put16(page, s + 12, BTP_INCOMPLETE_SPLIT | (isLeaf ? BTP_LEAF : 0));
                Page.put32(page, s + 4, right.blkno());
                Page.put16(page, s + 14, 0);
            }
            default -> throw new RedoException("btree split has no block " + blockId, r.startLsn());
        }
    }

    private static void add(WalRecord r, byte[] page, byte[] src, int off, int size, int offnum) {
        if (Page.addItem(page, src, off, size, offnum, 0) != offnum) {
            throw new RedoException("btree_xlog_split: failed to add item to left page after split", r.startLsn());
        }
    }

    /** Mirrors btree_xlog_dedup: the page rebuilt with the intervals merged into posting lists. */
    static void dedup(WalRecord r, byte[] page) {
        int nintervals = XlBtreeDedup.parse(r).nintervals();
        byte[] iv = r.block(0).data();
        WalRedo.need(r, iv, nintervals * NbtXlog.SIZE_OF_DEDUP_INTERVAL);
        int next = Page.u32(page, special(page) + 4);
        int minoff = next == P_NONE ? P_HIKEY : P_FIRSTKEY;
        int maxoff = Page.maxOffsetNumber(page);
        byte[] newPage = new byte[Page.BLCKSZ];
        int specialSize = Page.BLCKSZ - special(page);
        Page.init(newPage, specialSize);
        System.arraycopy(page, special(page), newPage, special(newPage), specialSize);
        if (next != P_NONE) {
            int id = Page.itemId(page, P_HIKEY);
            if (Page.addItem(newPage, page, Page.lpOff(id), Page.lpLen(id), P_HIKEY, 0) != P_HIKEY) {
                throw new RedoException("deduplication failed to add highkey", r.startLsn());
            }
        }
        NbtDedup.Dedup state = new NbtDedup.Dedup();
        for (int off = minoff; off <= maxoff; off++) {
            int itup = Page.lpOff(Page.itemId(page, off));
            if (off == minoff) {
                state.start(page, itup, off);
            } else if (state.nintervals < nintervals && state.baseOff == Page.u16(iv, state.nintervals * NbtXlog.SIZE_OF_DEDUP_INTERVAL)
                && state.nitems < Page.u16(iv, state.nintervals * NbtXlog.SIZE_OF_DEDUP_INTERVAL + 2)) {
                if (!state.save(page, itup)) {
                    throw new RedoException("deduplication failed to add heap tid to pending posting list",
                        r.startLsn());
                }
            } else {
                state.finish(r, newPage);
                state.start(page, itup, off);
            }
        }
        state.finish(r, newPage);
        int s = special(newPage);
        Page.put16(newPage, s + 12, Page.u16(newPage, s + 12) & ~BTP_HAS_GARBAGE);
        System.arraycopy(newPage, 0, page, 0, Page.BLCKSZ);
    }

    /** Mirrors btree_xlog_vacuum and btree_xlog_delete (with btree_xlog_updates). */
    static void vacuum(WalRecord r, byte[] page) {
        DeletedAndUpdated x = r.rmgrInfo() == NbtXlog.XLOG_BTREE_VACUUM ? XlBtreeVacuum.parse(r) : XlBtreeDelete.parse(r);
        int ndeleted = x.ndeleted();
        int nupdated = x.nupdated();
        byte[] d = r.block(0).data();
        if (nupdated > 0) {
            // after the deleted offsets, the updated ones, then an xl_btree_update
            // (ndeletedtids u16, positions u16[]) for each
            int[] starts = x.updateStarts(r, d == null ? new byte[0] : d);
            for (int i = 0; i < nupdated; i++) {
                int offnum = Page.u16(d, (ndeleted + i) * 2);
                int ndel = Page.u16(d, starts[i]);
                byte[] t = NbtDedup.updatePosting(r, page, Page.lpOff(Page.itemId(page, offnum)), d, starts[i] + 2, ndel);
                if (!Page.indexTupleOverwrite(page, offnum, t, 0, t.length)) {
                    throw new RedoException("failed to update partially dead item", r.startLsn());
                }
            }
        }
        if (ndeleted > 0) {
            WalRedo.need(r, d, ndeleted * 2);
            int[] offs = new int[ndeleted];
            for (int i = 0; i < ndeleted; i++) {
                offs[i] = Page.u16(d, i * 2);
            }
            Page.indexMultiDelete(page, offs);
        }
        setFlags(page, flags(page) & ~BTP_HAS_GARBAGE);
    }
}
