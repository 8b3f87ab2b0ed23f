package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;

/**
 * The posting list work of nbtdedup.c (PG15) that B-tree redo repeats: BTDedupState with
 * _bt_dedup_start_pending, _bt_dedup_save_htid, _bt_dedup_finish_pending and _bt_form_posting
 * (btree_xlog_dedup), _bt_update_posting (btree_xlog_updates) and _bt_swap_posting (posting
 * list splits), with nbtree.h's posting list tuple accessors. Pure functions on byte arrays.
 */
final class NbtDedup {
    private NbtDedup() {
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
        int info = (Page.u16(t, 6) & ~BtreeRedo.INDEX_SIZE_MASK) | newsize;
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

    static final int INDEX_ALT_TID_MASK = 0x2000;
    static final int BT_IS_POSTING = 0x2000;
    static final int BT_OFFSET_MASK = 0x0FFF;
    /** BTMaxItemSize for 8 kB pages. */
    static final int BT_MAX_ITEM_SIZE = 2712;

    static int tupleSize(byte[] p, int off) {
        return Page.u16(p, off + 6) & BtreeRedo.INDEX_SIZE_MASK;
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
                int info = (Page.u16(t, 6) & ~BtreeRedo.INDEX_SIZE_MASK) | newsize | INDEX_ALT_TID_MASK;
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
}
