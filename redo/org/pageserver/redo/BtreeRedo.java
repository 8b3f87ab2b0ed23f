package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Redo of RM_BTREE_ID records (nbtxlog.c, PG15), one block at a time, for the record types
 * supported so far: insert (leaf, upper, meta), split (left and right, without a posting list
 * split), new root, meta cleanup, reuse page, deduplication, and vacuum/delete without posting
 * list updates. {@link #canRedo} says which; the others (posting inserts and splits, posting
 * updates, page deletion) are refused with a clear error until they are in.
 *
 * <pre>
 * BTPageOpaqueData (special space, 16 bytes): btpo_prev u32, btpo_next u32, btpo_level u32,
 *                                              btpo_flags u16, btpo_cycleid u16
 * BTMetaPageData (after the page header): magic, version, root, level, fastroot, fastlevel,
 *   last_cleanup_num_delpages (u32 each), pad, last_cleanup_num_heap_tuples f64, allequalimage bool
 * xl_btree_metadata: version, root, level, fastroot, fastlevel, last_cleanup_num_delpages u32,
 *                    allequalimage bool
 * xl_btree_insert: offnum u16           xl_btree_newroot: rootblk u32, level u32
 * xl_btree_split: level u32, firstrightoff u16, newitemoff u16, postingoff u16
 * xl_btree_vacuum: ndeleted u16, nupdated u16; xl_btree_delete: latestRemovedXid u32, ndeleted u16, nupdated u16
 * </pre>
 */
final class BtreeRedo {
    static final int XLOG_BTREE_INSERT_LEAF = 0x00;
    static final int XLOG_BTREE_INSERT_UPPER = 0x10;
    static final int XLOG_BTREE_INSERT_META = 0x20;
    static final int XLOG_BTREE_SPLIT_L = 0x30;
    static final int XLOG_BTREE_SPLIT_R = 0x40;
    static final int XLOG_BTREE_INSERT_POST = 0x50;
    static final int XLOG_BTREE_DEDUP = 0x60;
    static final int XLOG_BTREE_DELETE = 0x70;
    static final int XLOG_BTREE_NEWROOT = 0xA0;
    static final int XLOG_BTREE_VACUUM = 0xC0;
    static final int XLOG_BTREE_REUSE_PAGE = 0xD0;
    static final int XLOG_BTREE_META_CLEANUP = 0xE0;

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

    static boolean canRedo(WalRecord r) {
        return switch (r.rmgrInfo()) {
            case XLOG_BTREE_INSERT_LEAF, XLOG_BTREE_INSERT_UPPER, XLOG_BTREE_INSERT_META, XLOG_BTREE_NEWROOT,
                XLOG_BTREE_META_CLEANUP, XLOG_BTREE_REUSE_PAGE, XLOG_BTREE_DEDUP, XLOG_BTREE_INSERT_POST,
                XLOG_BTREE_SPLIT_L, XLOG_BTREE_SPLIT_R, XLOG_BTREE_VACUUM, XLOG_BTREE_DELETE,
                XLOG_BTREE_MARK_PAGE_HALFDEAD, XLOG_BTREE_UNLINK_PAGE, XLOG_BTREE_UNLINK_PAGE_META -> true;
            default -> false;
        };
    }

    static void redo(WalRecord r, int blockId, byte[] page) {
        if (!canRedo(r)) {
            throw new RedoException("cannot redo Btree record (info 0x" + Integer.toHexString(r.rmgrInfo())
                + ") yet: posting list inserts, splits and updates and page deletion are not supported", r.startLsn());
        }
        switch (r.rmgrInfo()) {
            case XLOG_BTREE_INSERT_LEAF, XLOG_BTREE_INSERT_UPPER, XLOG_BTREE_INSERT_META, XLOG_BTREE_INSERT_POST ->
                insert(r, blockId, page);
            case XLOG_BTREE_SPLIT_L -> split(r, blockId, page, true);
            case XLOG_BTREE_SPLIT_R -> split(r, blockId, page, false);
            case XLOG_BTREE_NEWROOT -> newRoot(r, blockId, page);
            case XLOG_BTREE_META_CLEANUP -> restoreMeta(r, blockId, page);
            case XLOG_BTREE_VACUUM, XLOG_BTREE_DELETE -> vacuum(r, page);
            case XLOG_BTREE_DEDUP -> dedup(r, page);
            case XLOG_BTREE_MARK_PAGE_HALFDEAD -> markHalfDead(r, blockId, page);
            case XLOG_BTREE_UNLINK_PAGE, XLOG_BTREE_UNLINK_PAGE_META -> unlink(r, blockId, page);
            default -> throw new RedoException("Btree record 0x" + Integer.toHexString(r.rmgrInfo()) + " touches no page",
                r.startLsn());
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

    /** Mirrors btree_xlog_insert (not the posting variant). */
    static void insert(WalRecord r, int blockId, byte[] page) {
        int info = r.rmgrInfo();
        if (blockId == 1 && info != XLOG_BTREE_INSERT_LEAF) {
            clearIncompleteSplit(page);
            return;
        }
        if (blockId == 2 && info == XLOG_BTREE_INSERT_META) {
            restoreMeta(r, blockId, page);
            return;
        }
        byte[] m = r.mainData();
        WalRedo.need(r, m, 2);
        int offnum = Page.u16(m, 0);
        byte[] item = r.block(0).data();
        if (info == XLOG_BTREE_INSERT_POST) {
            // a posting list split: _bt_swap_posting on the posting list just before offnum
            WalRedo.need(r, item, 10);
            int postingoff = Page.u16(item, 0);
            byte[] newItem = java.util.Arrays.copyOfRange(item, 2, item.length);
            int oposting = Page.lpOff(Page.itemId(page, offnum - 1));
            byte[] nposting = swapPosting(r, newItem, page, oposting, postingoff);
            System.arraycopy(nposting, 0, page, oposting, Page.maxAlign(tupleSize(nposting, 0)));
            if (Page.addItem(page, newItem, 0, newItem.length, offnum, 0) != offnum) {
                throw new RedoException("failed to add posting split new item", r.startLsn());
            }
            return;
        }
        WalRedo.need(r, item, 8);
        if (Page.addItem(page, item, 0, item.length, offnum, 0) != offnum) {
            throw new RedoException("btree_xlog_insert: failed to add new item", r.startLsn());
        }
    }

    /**
     * Mirrors _bt_swap_posting: the new item's heap TID goes into the posting list at
     * {@code postingoff} (the TIDs after it shift right), and the new item takes the posting
     * list's old maximum TID. {@code newItem} is changed in place; returns the new posting list.
     */
    static byte[] swapPosting(WalRecord r, byte[] newItem, byte[] page, int oposting, int postingoff) {
        int nhtids = nPosting(page, oposting);
        if (!isPosting(page, oposting) || postingoff <= 0 || postingoff >= nhtids) {
            throw new RedoException("posting list split at " + postingoff + " of a tuple with " + nhtids + " TIDs",
                r.startLsn());
        }
        int size = tupleSize(page, oposting);
        byte[] nposting = java.util.Arrays.copyOfRange(page, oposting, oposting + size);
        int plist = postingOffset(nposting, 0);
        int replacepos = plist + postingoff * 6;
        System.arraycopy(nposting, replacepos, nposting, replacepos + 6, (nhtids - postingoff - 1) * 6);
        System.arraycopy(newItem, 0, nposting, replacepos, 6);
        System.arraycopy(page, oposting + plist + (nhtids - 1) * 6, newItem, 0, 6);
        return nposting;
    }

    /** Mirrors _bt_update_posting: the posting list without the TIDs at the given positions. */
    static byte[] updatePosting(WalRecord r, byte[] page, int orig, byte[] d, int delPos, int ndel) {
        if (!isPosting(page, orig)) {
            throw new RedoException("posting list update of a tuple without a posting list", r.startLsn());
        }
        int n = nPosting(page, orig);
        int nhtids = n - ndel;
        if (nhtids <= 0) {
            throw new RedoException("posting list update deletes every TID", r.startLsn());
        }
        int keysize = postingOffset(page, orig);
        int newsize = nhtids > 1 ? Page.maxAlign(keysize + nhtids * 6) : keysize;
        byte[] t = new byte[newsize];
        System.arraycopy(page, orig, t, 0, keysize);
        int info = (Page.u16(t, 6) & ~INDEX_SIZE_MASK) | newsize;
        int htids;
        if (nhtids > 1) {
            info |= INDEX_ALT_TID_MASK;
            Page.put16(t, 4, nhtids | BT_IS_POSTING);
            Page.put16(t, 0, keysize >>> 16);
            Page.put16(t, 2, keysize);
            htids = keysize;
        } else {
            info &= ~INDEX_ALT_TID_MASK;
            htids = 0;
        }
        Page.put16(t, 6, info);
        int ui = 0;
        int dd = 0;
        for (int i = 0; i < n; i++) {
            if (dd < ndel && Page.u16(d, delPos + dd * 2) == i) {
                dd++;
                continue;
            }
            System.arraycopy(page, orig + keysize + i * 6, t, htids + ui * 6, 6);
            ui++;
        }
        return t;
    }

    static final int XLOG_BTREE_UNLINK_PAGE = 0x80;
    static final int XLOG_BTREE_UNLINK_PAGE_META = 0x90;
    static final int XLOG_BTREE_MARK_PAGE_HALFDEAD = 0xB0;
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
        Page.put16(t, 6, 8 | INDEX_ALT_TID_MASK);
        if (Page.addItem(page, t, 0, 8, P_HIKEY, 0) != P_HIKEY) {
            throw new RedoException("could not add dummy high key to half-dead page", r.startLsn());
        }
    }

    /**
     * Mirrors btree_xlog_mark_page_halfdead. xl_btree_mark_page_halfdead: poffset u16, pad,
     * leafblk u32, leftblk u32, rightblk u32, topparent u32. Block 0 is the leaf (rebuilt), block
     * 1 the parent, whose downlink to the leaf is replaced by the next one.
     */
    static void markHalfDead(WalRecord r, int blockId, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 20);
        if (blockId == 1) {
            int poffset = Page.u16(m, 0);
            int next = Page.lpOff(Page.itemId(page, poffset + 1));
            int cur = Page.lpOff(Page.itemId(page, poffset));
            System.arraycopy(page, next, page, cur, 4); // BTreeTupleSetDownLink: the block number of t_tid
            Page.indexTupleDelete(page, poffset + 1);
            return;
        }
        halfDeadLeaf(r, page, Page.u32(m, 8), Page.u32(m, 12), Page.u32(m, 16));
    }

    /**
     * Mirrors btree_xlog_unlink_page. xl_btree_unlink_page: leftsib, rightsib, level u32, pad,
     * safexid u64, leafleftsib, leafrightsib, leaftopparent u32. Block 0 the deleted page, 1 its
     * left sibling, 2 its right sibling, 3 the leaf of the subtree (when a parent was deleted),
     * 4 the metapage (UNLINK_PAGE_META).
     */
    static void unlink(WalRecord r, int blockId, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 36);
        int leftsib = Page.u32(m, 0);
        int rightsib = Page.u32(m, 4);
        int level = Page.u32(m, 8);
        switch (blockId) {
            case 1 -> Page.put32(page, special(page) + 4, rightsib);
            case 2 -> Page.put32(page, special(page), leftsib);
            case 3 -> halfDeadLeaf(r, page, Page.u32(m, 24), Page.u32(m, 28), Page.u32(m, 32));
            case 4 -> restoreMeta(r, blockId, page);
            default -> {
                pageInit(page);
                setOpaque(page, leftsib, rightsib, level, 0, 0);
                // BTPageSetDeleted
                setFlags(page, (flags(page) & ~BTP_HALF_DEAD) | BTP_DELETED | BTP_HAS_FULLXID
                    | (level == 0 ? BTP_LEAF : 0));
                Page.setLower(page, Page.SIZE_OF_PAGE_HEADER_DATA + 8);
                Page.setUpper(page, special(page));
                System.arraycopy(m, 16, page, Page.SIZE_OF_PAGE_HEADER_DATA, 8);
            }
        }
    }

    /** _bt_clear_incomplete_split on the child one level down. */
    static void clearIncompleteSplit(byte[] page) {
        setFlags(page, flags(page) & ~BTP_INCOMPLETE_SPLIT);
    }

    /** Mirrors _bt_restore_meta: the metapage rebuilt from xl_btree_metadata. */
    static void restoreMeta(WalRecord r, int blockId, byte[] page) {
        byte[] d = r.block(blockId).data();
        WalRedo.need(r, d, 25);
        java.util.Arrays.fill(page, (byte) 0);
        pageInit(page);
        int md = Page.SIZE_OF_PAGE_HEADER_DATA;
        Page.put32(page, md, BTREE_MAGIC);
        Page.put32(page, md + 4, Page.u32(d, 0));
        Page.put32(page, md + 8, Page.u32(d, 4));
        Page.put32(page, md + 12, Page.u32(d, 8));
        Page.put32(page, md + 16, Page.u32(d, 12));
        Page.put32(page, md + 20, Page.u32(d, 16));
        Page.put32(page, md + 24, Page.u32(d, 20));
        long minusOne = Double.doubleToLongBits(-1.0);
        Page.put32(page, md + 32, (int) minusOne);
        Page.put32(page, md + 36, (int) (minusOne >>> 32));
        page[md + 40] = d[24];
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
        byte[] m = r.mainData();
        WalRedo.need(r, m, 8);
        int level = Page.u32(m, 4);
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
     * Mirrors btree_xlog_split (without a posting list split): block 0 is the original (left)
     * page, rebuilt in item order on a temporary page; block 1 the new right page, rebuilt from
     * scratch; block 2 the right sibling, whose left link is fixed; block 3 the child whose
     * incomplete split this insertion finishes.
     */
    static void split(WalRecord r, int blockId, byte[] page, boolean newItemOnLeft) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 10);
        int level = Page.u32(m, 0);
        int firstRightOff = Page.u16(m, 4);
        int newItemOff = Page.u16(m, 6);
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
                int postingoff = Page.u16(m, 8);
                int pos = 0;
                int newItemPos = -1;
                int newItemSize = 0;
                int replacePostingOff = -1;
                byte[] nposting = null;
                if (newItemOnLeft || postingoff != 0) {
                    newItemPos = 0;
                    newItemSize = Page.maxAlign(Page.u16(d, 6) & INDEX_SIZE_MASK);
                    pos += newItemSize;
                    if (postingoff != 0) {
                        // the posting list before the new item splits (_bt_swap_posting)
                        replacePostingOff = newItemOff - 1;
                        d = d.clone();
                        byte[] newItem = java.util.Arrays.copyOfRange(d, 0, newItemSize);
                        int oposting = Page.lpOff(Page.itemId(page, replacePostingOff));
                        nposting = swapPosting(r, newItem, page, oposting, postingoff);
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
                        add(r, temp, nposting, 0, Page.maxAlign(tupleSize(nposting, 0)), leftOff++);
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

    static final int INDEX_ALT_TID_MASK = 0x2000;
    static final int BT_IS_POSTING = 0x2000;
    static final int BT_OFFSET_MASK = 0x0FFF;
    /** BTMaxItemSize for 8 kB pages. */
    static final int BT_MAX_ITEM_SIZE = 2712;

    static int tupleSize(byte[] p, int off) {
        return Page.u16(p, off + 6) & INDEX_SIZE_MASK;
    }

    static boolean isPosting(byte[] p, int off) {
        return (Page.u16(p, off + 6) & INDEX_ALT_TID_MASK) != 0 && (Page.u16(p, off + 4) & BT_IS_POSTING) != 0;
    }

    static int nPosting(byte[] p, int off) {
        return Page.u16(p, off + 4) & BT_OFFSET_MASK;
    }

    static int postingOffset(byte[] p, int off) {
        return Page.u16(p, off) << 16 | Page.u16(p, off + 2);
    }

    /** BTDedupState of nbtdedup.c, as much of it as redo needs. */
    static final class Dedup {
        byte[] src;
        int base;
        int baseOff;
        int baseTupSize;
        final byte[] htids = new byte[BT_MAX_ITEM_SIZE];
        int nhtids;
        int nitems;
        int nintervals;

        /** _bt_dedup_start_pending. */
        void start(byte[] p, int itup, int offnum) {
            src = p;
            if (!isPosting(p, itup)) {
                System.arraycopy(p, itup, htids, 0, 6);
                nhtids = 1;
                baseTupSize = tupleSize(p, itup);
            } else {
                int n = nPosting(p, itup);
                System.arraycopy(p, itup + postingOffset(p, itup), htids, 0, 6 * n);
                nhtids = n;
                baseTupSize = postingOffset(p, itup);
            }
            nitems = 1;
            base = itup;
            baseOff = offnum;
        }

        /** _bt_dedup_save_htid. */
        boolean save(byte[] p, int itup) {
            int n = isPosting(p, itup) ? nPosting(p, itup) : 1;
            int from = isPosting(p, itup) ? itup + postingOffset(p, itup) : itup;
            if (Page.maxAlign(baseTupSize + (nhtids + n) * 6) > BT_MAX_ITEM_SIZE) {
                return false;
            }
            nitems++;
            System.arraycopy(p, from, htids, nhtids * 6, 6 * n);
            nhtids += n;
            return true;
        }

        /** _bt_dedup_finish_pending with _bt_form_posting. */
        void finish(WalRecord r, byte[] newPage) {
            int tupoff = Page.maxOffsetNumber(newPage) + 1;
            byte[] t;
            if (nitems == 1) {
                t = java.util.Arrays.copyOfRange(src, base, base + tupleSize(src, base));
            } else {
                int keysize = isPosting(src, base) ? postingOffset(src, base) : tupleSize(src, base);
                int newsize = Page.maxAlign(keysize + nhtids * 6);
                t = new byte[newsize];
                System.arraycopy(src, base, t, 0, keysize);
                int info = (Page.u16(t, 6) & ~INDEX_SIZE_MASK) | newsize | INDEX_ALT_TID_MASK;
                Page.put16(t, 6, info);
                Page.put16(t, 4, nhtids | BT_IS_POSTING);
                Page.put16(t, 0, keysize >>> 16);
                Page.put16(t, 2, keysize);
                System.arraycopy(htids, 0, t, keysize, nhtids * 6);
                nintervals++;
            }
            if (Page.addItem(newPage, t, 0, t.length, tupoff, 0) != tupoff) {
                throw new RedoException("btree_xlog_dedup: failed to add tuple", r.startLsn());
            }
            nhtids = 0;
            nitems = 0;
        }
    }

    /** Mirrors btree_xlog_dedup: the page rebuilt with the intervals merged into posting lists. */
    static void dedup(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, 2);
        int nintervals = Page.u16(m, 0);
        byte[] iv = r.block(0).data();
        WalRedo.need(r, iv, nintervals * 4);
        int next = Page.u32(page, special(page) + 4);
        int minoff = next == P_NONE ? P_HIKEY : P_FIRSTKEY;
        int maxoff = Page.maxOffsetNumber(page);
        if (maxoff < minoff) {
            // PostgreSQL deduplicates only pages with items; its redo would dereference a missing base tuple
            throw new RedoException("btree_xlog_dedup: the page has no items to deduplicate", r.startLsn());
        }
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
        Dedup state = new Dedup();
        for (int off = minoff; off <= maxoff; off++) {
            int itup = Page.lpOff(Page.itemId(page, off));
            if (off == minoff) {
                state.start(page, itup, off);
            } else if (state.nintervals < nintervals && state.baseOff == Page.u16(iv, state.nintervals * 4)
                && state.nitems < Page.u16(iv, state.nintervals * 4 + 2)) {
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

    /** Mirrors btree_xlog_vacuum / btree_xlog_delete without posting list updates. */
    static void vacuum(WalRecord r, byte[] page) {
        byte[] m = r.mainData();
        WalRedo.need(r, m, r.rmgrInfo() == XLOG_BTREE_VACUUM ? 4 : 8);
        int ndeleted = r.rmgrInfo() == XLOG_BTREE_VACUUM ? Page.u16(m, 0) : Page.u16(m, 4);
        int nupdated = r.rmgrInfo() == XLOG_BTREE_VACUUM ? Page.u16(m, 2) : Page.u16(m, 6);
        byte[] d = r.block(0).data();
        if (nupdated > 0) {
            // btree_xlog_updates: after the deleted offsets, the updated ones, then an
            // xl_btree_update (ndeletedtids u16, positions u16[]) for each
            WalRedo.need(r, d, (ndeleted + nupdated) * 2);
            int upos = (ndeleted + nupdated) * 2;
            for (int i = 0; i < nupdated; i++) {
                int offnum = Page.u16(d, (ndeleted + i) * 2);
                WalRedo.need(r, d, upos + 2);
                int ndel = Page.u16(d, upos);
                WalRedo.need(r, d, upos + 2 + ndel * 2);
                byte[] t = updatePosting(r, page, Page.lpOff(Page.itemId(page, offnum)), d, upos + 2, ndel);
                if (!Page.indexTupleOverwrite(page, offnum, t, 0, t.length)) {
                    throw new RedoException("failed to update partially dead item", r.startLsn());
                }
                upos += 2 + ndel * 2;
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
