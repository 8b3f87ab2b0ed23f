package org.pageserver.redo;

import static org.pageserver.redo.RecordData.u16;
import static org.pageserver.redo.RecordData.u32;
import static org.pageserver.redo.RecordData.u64;

import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Mirrors access/nbtxlog.h (PG15): the RM_BTREE_ID record types, and each record's main data
 * (and the metapage's xl_btree_metadata, logged as block data) decoded once into a record named
 * after its C struct, its length checked against the header's SizeOf*. BtreeRedo and the ingest
 * check ({@link #check}) read the structs only through these. Little-endian, x86-64 alignment.
 */
final class NbtXlog {
    static final int XLOG_BTREE_INSERT_LEAF = 0x00;
    static final int XLOG_BTREE_INSERT_UPPER = 0x10;
    static final int XLOG_BTREE_INSERT_META = 0x20;
    static final int XLOG_BTREE_SPLIT_L = 0x30;
    static final int XLOG_BTREE_SPLIT_R = 0x40;
    static final int XLOG_BTREE_INSERT_POST = 0x50;
    static final int XLOG_BTREE_DEDUP = 0x60;
    static final int XLOG_BTREE_DELETE = 0x70;
    static final int XLOG_BTREE_UNLINK_PAGE = 0x80;
    static final int XLOG_BTREE_UNLINK_PAGE_META = 0x90;
    static final int XLOG_BTREE_NEWROOT = 0xA0;
    static final int XLOG_BTREE_MARK_PAGE_HALFDEAD = 0xB0;
    static final int XLOG_BTREE_VACUUM = 0xC0;
    static final int XLOG_BTREE_REUSE_PAGE = 0xD0;
    static final int XLOG_BTREE_META_CLEANUP = 0xE0;

    /** IndexTupleData: t_tid (6) and t_info u16: the least an index tuple in block data is. */
    static final int SIZE_OF_INDEX_TUPLE = 8;
    /** xl_btree_dedup's intervals (block 0 data): BTDedupInterval baseoff u16, nitems u16. */
    static final int SIZE_OF_DEDUP_INTERVAL = 4;

    private static final String[] TYPES = {"INSERT_LEAF", "INSERT_UPPER", "INSERT_META", "SPLIT_L", "SPLIT_R",
        "INSERT_POST", "DEDUP", "DELETE", "UNLINK_PAGE", "UNLINK_PAGE_META", "NEWROOT", "MARK_PAGE_HALFDEAD",
        "VACUUM", "REUSE_PAGE", "META_CLEANUP", null};

    private NbtXlog() {
    }

    /** The record type's name as pg_waldump prints it (nbtdesc.c). */
    static String type(WalRecord r) {
        String t = TYPES[r.rmgrInfo() >> 4];
        if (t == null) {
            throw RecordData.unknownType(r);
        }
        return t;
    }

    /**
     * xl_btree_metadata, the metapage's fields logged as the data of the metapage's block:
     * version, root, level, fastroot, fastlevel, last_cleanup_num_delpages (u32 each),
     * allequalimage (a bool, kept as its byte).
     */
    record XlBtreeMetadata(int version, int root, int level, int fastroot, int fastlevel, int lastCleanupNumDelpages,
                           byte allequalimage) {
        static final int SIZE = 25;

        static XlBtreeMetadata parse(WalRecord r, int blockId) {
            byte[] d = RecordData.blockData(r, type(r), blockId, SIZE);
            return new XlBtreeMetadata(u32(d, 0), u32(d, 4), u32(d, 8), u32(d, 12), u32(d, 16), u32(d, 20), d[24]);
        }
    }

    /** xl_btree_insert: offnum u16. */
    record XlBtreeInsert(int offnum) {
        static final int SIZE = 2;

        static XlBtreeInsert parse(WalRecord r) {
            return new XlBtreeInsert(u16(RecordData.main(r, type(r), SIZE), 0));
        }
    }

    /** xl_btree_split: level u32, firstrightoff u16, newitemoff u16, postingoff u16. */
    record XlBtreeSplit(int level, int firstrightoff, int newitemoff, int postingoff) {
        static final int SIZE = 10;

        static XlBtreeSplit parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeSplit(u32(m, 0), u16(m, 4), u16(m, 6), u16(m, 8));
        }

        /**
         * True when the left page's data starts with the new item: it went left, or a posting
         * list split's new item is logged whichever side it went (_bt_split).
         */
        boolean newItemLogged(boolean newItemOnLeft) {
            return newItemOnLeft || postingoff != 0;
        }
    }

    /** xl_btree_dedup: nintervals u16 (the BTDedupInterval array is block 0's data). */
    record XlBtreeDedup(int nintervals) {
        static final int SIZE = 2;

        static XlBtreeDedup parse(WalRecord r) {
            return new XlBtreeDedup(u16(RecordData.main(r, type(r), SIZE), 0));
        }
    }

    /**
     * What XLOG_BTREE_DELETE and XLOG_BTREE_VACUUM share: block 0's data holds ndeleted
     * offsets, nupdated offsets, then an xl_btree_update (ndeletedtids u16, ptids u16[]) for
     * each updated one.
     */
    sealed interface DeletedAndUpdated permits XlBtreeDelete, XlBtreeVacuum {
        int ndeleted();

        int nupdated();

        /**
         * Where each xl_btree_update starts in block 0's data {@code d}.
         *
         * @throws RedoException when the data ends before the offsets or inside an update
         */
        default int[] updateStarts(WalRecord r, byte[] d) {
            String type = type(r);
            int pos = 2 * (ndeleted() + nupdated());
            if (d.length < pos) {
                throw RecordData.malformed(r, type, "block 0 data of " + d.length + " bytes, at least " + pos + " needed");
            }
            int[] starts = new int[nupdated()];
            for (int i = 0; i < nupdated(); i++) {
                if (pos + 2 > d.length || pos + 2 + 2 * u16(d, pos) > d.length) {
                    throw RecordData.badBlock(r, type, 0, "of " + d.length + " bytes ends inside update " + (i + 1)
                        + " of " + nupdated());
                }
                starts[i] = pos;
                pos += 2 + 2 * u16(d, pos);
            }
            return starts;
        }
    }

    /** xl_btree_delete: latestRemovedXid u32, ndeleted u16, nupdated u16. */
    record XlBtreeDelete(int latestRemovedXid, int ndeleted, int nupdated) implements DeletedAndUpdated {
        static final int SIZE = 8;

        static XlBtreeDelete parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeDelete(u32(m, 0), u16(m, 4), u16(m, 6));
        }
    }

    /** xl_btree_vacuum: ndeleted u16, nupdated u16. */
    record XlBtreeVacuum(int ndeleted, int nupdated) implements DeletedAndUpdated {
        static final int SIZE = 4;

        static XlBtreeVacuum parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeVacuum(u16(m, 0), u16(m, 2));
        }
    }

    /** xl_btree_mark_page_halfdead: poffset u16, pad, leafblk, leftblk, rightblk, topparent (u32 each). */
    record XlBtreeMarkPageHalfdead(int poffset, int leafblk, int leftblk, int rightblk, int topparent) {
        static final int SIZE = 20;

        static XlBtreeMarkPageHalfdead parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeMarkPageHalfdead(u16(m, 0), u32(m, 4), u32(m, 8), u32(m, 12), u32(m, 16));
        }
    }

    /**
     * xl_btree_unlink_page: leftsib, rightsib, level (u32 each), pad, safexid (FullTransactionId,
     * at 16), leafleftsib, leafrightsib, leaftopparent (u32 each).
     */
    record XlBtreeUnlinkPage(int leftsib, int rightsib, int level, long safexid, int leafleftsib, int leafrightsib,
                             int leaftopparent) {
        static final int SIZE = 36;

        static XlBtreeUnlinkPage parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeUnlinkPage(u32(m, 0), u32(m, 4), u32(m, 8), u64(m, 16), u32(m, 24), u32(m, 28),
                u32(m, 32));
        }
    }

    /** xl_btree_newroot: rootblk u32, level u32. */
    record XlBtreeNewroot(int rootblk, int level) {
        static final int SIZE = 8;

        static XlBtreeNewroot parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeNewroot(u32(m, 0), u32(m, 4));
        }
    }

    /** xl_btree_reuse_page: node (spc, db, rel), block u32, latestRemovedFullXid (at 16). */
    record XlBtreeReusePage(RelTag node, int block, long latestRemovedFullXid) {
        static final int SIZE = 24;

        static XlBtreeReusePage parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlBtreeReusePage(new RelTag(u32(m, 0), u32(m, 4), u32(m, 8), ForkNumber.MAIN), u32(m, 12),
                u64(m, 16));
        }
    }

    /** The metapage's data, when redo rebuilds the metapage from it (not from an image). */
    private static void metadata(WalRecord r, int blockId) {
        if (RecordData.redoData(r, blockId) != null) {
            XlBtreeMetadata.parse(r, blockId);
        }
    }

    /**
     * The ingest check of a B-tree record: its type is one PG15 writes, its main data parses,
     * the blocks btree_redo reads are there (a page deletion at the left edge of its level
     * registers no left sibling, block 1; nor a leaf, block 3, when the target is the leaf),
     * and the data of each it does not restore from an image is what the main data announces:
     * index tuples, metadata, deduplication intervals, deleted and updated offsets.
     */
    static void check(WalRecord r) {
        String type = type(r);
        switch (r.rmgrInfo()) {
            case XLOG_BTREE_INSERT_LEAF, XLOG_BTREE_INSERT_UPPER -> {
                XlBtreeInsert.parse(r);
                RecordData.needBlocks(r, type, 0);
                RecordData.needBlock(r, type, 0, SIZE_OF_INDEX_TUPLE);
            }
            case XLOG_BTREE_INSERT_META -> {
                XlBtreeInsert.parse(r);
                RecordData.needBlocks(r, type, 0, 2);
                RecordData.needBlock(r, type, 0, SIZE_OF_INDEX_TUPLE);
                metadata(r, 2);
            }
            case XLOG_BTREE_INSERT_POST -> { // postingoff u16, then the new item
                XlBtreeInsert.parse(r);
                RecordData.needBlocks(r, type, 0);
                RecordData.needBlock(r, type, 0, 2 + SIZE_OF_INDEX_TUPLE);
            }
            case XLOG_BTREE_SPLIT_L, XLOG_BTREE_SPLIT_R -> { // [new item] left high key; the right page's items
                XlBtreeSplit x = XlBtreeSplit.parse(r);
                RecordData.needBlocks(r, type, 0, 1);
                boolean newItem = x.newItemLogged(r.rmgrInfo() == XLOG_BTREE_SPLIT_L);
                RecordData.needBlock(r, type, 0, (newItem ? 2 : 1) * SIZE_OF_INDEX_TUPLE);
                RecordData.needBlock(r, type, 1, SIZE_OF_INDEX_TUPLE);
            }
            case XLOG_BTREE_DEDUP -> {
                XlBtreeDedup x = XlBtreeDedup.parse(r);
                RecordData.needBlocks(r, type, 0);
                RecordData.needBlock(r, type, 0, (long) SIZE_OF_DEDUP_INTERVAL * x.nintervals());
            }
            case XLOG_BTREE_DELETE, XLOG_BTREE_VACUUM -> {
                DeletedAndUpdated x = r.rmgrInfo() == XLOG_BTREE_DELETE ? XlBtreeDelete.parse(r) : XlBtreeVacuum.parse(r);
                RecordData.needBlocks(r, type, 0);
                byte[] d = RecordData.redoData(r, 0);
                if (d != null) {
                    x.updateStarts(r, d);
                }
            }
            case XLOG_BTREE_UNLINK_PAGE -> {
                XlBtreeUnlinkPage.parse(r);
                RecordData.needBlocks(r, type, 0, 2);
            }
            case XLOG_BTREE_UNLINK_PAGE_META -> {
                XlBtreeUnlinkPage.parse(r);
                RecordData.needBlocks(r, type, 0, 2, 4);
                metadata(r, 4);
            }
            case XLOG_BTREE_NEWROOT -> { // the root's downlinks when above the leaves; the metapage
                XlBtreeNewroot x = XlBtreeNewroot.parse(r);
                RecordData.needBlocks(r, type, 0, 2);
                if (x.level() != 0) {
                    RecordData.needBlock(r, type, 0, SIZE_OF_INDEX_TUPLE);
                }
                metadata(r, 2);
            }
            case XLOG_BTREE_MARK_PAGE_HALFDEAD -> {
                XlBtreeMarkPageHalfdead.parse(r);
                RecordData.needBlocks(r, type, 0, 1);
            }
            case XLOG_BTREE_REUSE_PAGE -> XlBtreeReusePage.parse(r);
            default -> { // XLOG_BTREE_META_CLEANUP: no main data
                RecordData.needBlocks(r, type, 0);
                metadata(r, 0);
            }
        }
    }
}
