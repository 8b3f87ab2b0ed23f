package org.pageserver.redo;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Mirrors ginxlog.h (PG15): the RM_GIN_ID record types, their flags, and one record per xl_*
 * struct, each parsed once with its length checks, for redo ({@link GinRedo}) and the ingest
 * check ({@link #check}) alike. Little-endian, laid out as on x86-64 (offsets read off the
 * headers with a C program printing offsetof and sizeof):
 *
 * <pre>
 * ginxlogCreatePostingTree: size u32, then a compressed posting list of size bytes (main data)
 * ginxlogInsert:            flags u16; when not ISLEAF, BlockIdData[2] left and right child (main data)
 * ginxlogInsertEntry:       offset u16, isDelete bool, pad, IndexTupleData at 4 (block 0 data)
 * ginxlogRecompressDataLeaf: nactions u16, then per action segno u8, type u8 and
 *                           INSERT/REPLACE: a GinPostingList (SHORTALIGNed); ADDITEMS: nitems u16, ItemPointerData[nitems]
 * ginxlogInsertDataInternal: offset u16, PostingItem (child BlockIdData, key ItemPointerData) (block 0 data)
 * ginxlogSplit (28):        RelFileNode, rrlink u32 @12, leftChildBlkno @16, rightChildBlkno @20, flags u16 @24
 * ginxlogDeletePage (12):   parentOffset u16, rightLink u32 @4, deleteXid u32 @8
 * ginxlogUpdateMeta (88):   RelFileNode, GinMetaPageData (56) @16, prevTail @72, newRightlink @76, ntuples i32 @80,
 *                           the tuples in block 1's data
 * ginxlogInsertListPage (8): rightlink u32, ntuples i32, the tuples in block 0's data
 * ginxlogDeleteListPages (64): GinMetaPageData, ndeleted i32 @56
 * </pre>
 */
final class GinXlog {
    static final int XLOG_GIN_CREATE_PTREE = 0x10;
    static final int XLOG_GIN_INSERT = 0x20;
    static final int XLOG_GIN_SPLIT = 0x30;
    static final int XLOG_GIN_VACUUM_PAGE = 0x40;
    static final int XLOG_GIN_DELETE_PAGE = 0x50;
    static final int XLOG_GIN_UPDATE_META_PAGE = 0x60;
    static final int XLOG_GIN_INSERT_LISTPAGE = 0x70;
    static final int XLOG_GIN_DELETE_LISTPAGE = 0x80;
    static final int XLOG_GIN_VACUUM_DATA_LEAF_PAGE = 0x90;

    static final int GIN_INSERT_ISDATA = 0x01;
    static final int GIN_INSERT_ISLEAF = 0x02;
    static final int GIN_SPLIT_ROOT = 0x04;

    static final int GIN_SEGMENT_DELETE = 1;
    static final int GIN_SEGMENT_INSERT = 2;
    static final int GIN_SEGMENT_REPLACE = 3;
    static final int GIN_SEGMENT_ADDITEMS = 4;

    /** GIN_NDELETE_AT_ONCE: Min(16, XLR_MAX_BLOCK_ID - 1). */
    static final int GIN_NDELETE_AT_ONCE = 16;
    static final int SIZE_OF_GIN_META_PAGE_DATA = 56;
    /** IndexTupleData: t_tid (6) and t_info u16 (itup.h). */
    static final int SIZE_OF_INDEX_TUPLE = 8;
    static final int INDEX_SIZE_MASK = 0x1FFF;
    static final int INVALID_BLOCK_NUMBER = 0xFFFFFFFF;

    private GinXlog() {
    }

    /** The record type's name as gin_identify (gindesc.c) gives it. */
    static String name(int opcode) {
        return switch (opcode) {
            case XLOG_GIN_CREATE_PTREE -> "CREATE_PTREE";
            case XLOG_GIN_INSERT -> "INSERT";
            case XLOG_GIN_SPLIT -> "SPLIT";
            case XLOG_GIN_VACUUM_PAGE -> "VACUUM_PAGE";
            case XLOG_GIN_VACUUM_DATA_LEAF_PAGE -> "VACUUM_DATA_LEAF_PAGE";
            case XLOG_GIN_DELETE_PAGE -> "DELETE_PAGE";
            case XLOG_GIN_UPDATE_META_PAGE -> "UPDATE_META_PAGE";
            case XLOG_GIN_INSERT_LISTPAGE -> "INSERT_LISTPAGE";
            case XLOG_GIN_DELETE_LISTPAGE -> "DELETE_LISTPAGE";
            default -> null;
        };
    }

    static RedoException malformed(WalRecord r, String what) {
        String n = name(r.rmgrInfo());
        return new RedoException("malformed Gin " + (n == null ? "record" : n + " record") + ": " + what, r.startLsn());
    }

    private static void need(WalRecord r, byte[] b, int n, String what) {
        int have = b == null ? 0 : b.length;
        if (have < n) {
            throw malformed(r, what + " of " + have + " bytes, at least " + n + " needed");
        }
    }

    private static byte[] main(WalRecord r, int n) {
        byte[] m = r.mainData();
        need(r, m, n, "main data");
        return m;
    }

    /** ginxlogCreatePostingTree and the posting list after it. */
    record GinxlogCreatePostingTree(int size, byte[] postingList) {
        static GinxlogCreatePostingTree parse(WalRecord r) {
            byte[] m = main(r, 4);
            long size = Page.u32(m, 0) & 0xFFFFFFFFL;
            if (size > GinPage.GIN_DATA_PAGE_MAX_DATA_SIZE) {
                throw malformed(r, "a posting list of " + size + " bytes does not fit a page");
            }
            need(r, m, 4 + (int) size, "main data");
            return new GinxlogCreatePostingTree((int) size, java.util.Arrays.copyOfRange(m, 4, 4 + (int) size));
        }
    }

    /**
     * ginxlogInsert with, when it inserts a downlink, the child whose split it finishes; only
     * the right child is read by the redo (the left one is under NOT_USED in ginRedoInsert).
     */
    record GinxlogInsert(int flags, int rightChildBlkno) {
        static GinxlogInsert parse(WalRecord r) {
            byte[] m = main(r, 2);
            int flags = Page.u16(m, 0);
            if ((flags & GIN_INSERT_ISLEAF) != 0) {
                return new GinxlogInsert(flags, INVALID_BLOCK_NUMBER);
            }
            main(r, 2 + 8);
            return new GinxlogInsert(flags, GinPage.blockId(m, 6));
        }

        boolean isLeaf() {
            return (flags & GIN_INSERT_ISLEAF) != 0;
        }

        boolean isData() {
            return (flags & GIN_INSERT_ISDATA) != 0;
        }
    }

    /** ginxlogInsertEntry: the entry tuple (IndexTupleSize bytes) to place at offset. */
    record GinxlogInsertEntry(int offset, boolean isDelete, byte[] tuple) {
        static GinxlogInsertEntry parse(WalRecord r, byte[] d) {
            need(r, d, 4 + SIZE_OF_INDEX_TUPLE, "block 0 data");
            int size = Page.u16(d, 4 + 6) & INDEX_SIZE_MASK;
            if (size < SIZE_OF_INDEX_TUPLE || 4 + size > d.length) {
                throw malformed(r, "block 0 data of " + d.length + " bytes holds no index tuple of " + size + " bytes");
            }
            return new GinxlogInsertEntry(Page.u16(d, 0), d[2] != 0, java.util.Arrays.copyOfRange(d, 4, 4 + size));
        }
    }

    /** ginxlogInsertDataInternal: the PostingItem (10 bytes) to place at offset. */
    record GinxlogInsertDataInternal(int offset, byte[] newitem) {
        static GinxlogInsertDataInternal parse(WalRecord r, byte[] d) {
            need(r, d, 2 + GinPage.SIZE_OF_POSTING_ITEM, "block 0 data");
            return new GinxlogInsertDataInternal(Page.u16(d, 0),
                java.util.Arrays.copyOfRange(d, 2, 2 + GinPage.SIZE_OF_POSTING_ITEM));
        }
    }

    /**
     * ginxlogSegmentAction: segment {@code segno} is deleted, or {@code newSegment} (a whole
     * GinPostingList, SizeOfGinPostingList bytes) inserted before it or replaces it, or the
     * item pointers {@code items} (as {@link GinPostingList} encodes them) are merged into it.
     */
    record GinxlogSegmentAction(int segno, int type, byte[] newSegment, long[] items) {
    }

    /** ginxlogRecompressDataLeaf (also the whole of ginxlogVacuumDataLeafPage). */
    record GinxlogRecompressDataLeaf(List<GinxlogSegmentAction> actions) {
        static GinxlogRecompressDataLeaf parse(WalRecord r, byte[] d) {
            need(r, d, 2, "block 0 data");
            int nactions = Page.u16(d, 0);
            List<GinxlogSegmentAction> actions = new ArrayList<>(nactions);
            int pos = 2;
            for (int i = 0; i < nactions; i++) {
                needForAction(r, d, pos + 2, i, nactions);
                int segno = d[pos] & 0xFF;
                int type = d[pos + 1] & 0xFF;
                pos += 2;
                switch (type) {
                    case GIN_SEGMENT_INSERT, GIN_SEGMENT_REPLACE -> {
                        needForAction(r, d, pos + GinPostingList.HEADER, i, nactions);
                        int size = GinPostingList.sizeOf(d, pos);
                        needForAction(r, d, pos + size, i, nactions);
                        actions.add(new GinxlogSegmentAction(segno, type, java.util.Arrays.copyOfRange(d, pos, pos + size),
                            null));
                        pos += Page.shortAlign(size);
                    }
                    case GIN_SEGMENT_ADDITEMS -> {
                        needForAction(r, d, pos + 2, i, nactions);
                        int nitems = Page.u16(d, pos);
                        pos += 2;
                        needForAction(r, d, pos + 6 * nitems, i, nactions);
                        long[] items = new long[nitems];
                        for (int k = 0; k < nitems; k++) {
                            items[k] = GinPostingList.itemPointer(d, pos + 6 * k);
                        }
                        actions.add(new GinxlogSegmentAction(segno, type, null, items));
                        pos += 6 * nitems;
                    }
                    case GIN_SEGMENT_DELETE -> actions.add(new GinxlogSegmentAction(segno, type, null, null));
                    default -> throw malformed(r, "unexpected GIN leaf action " + type + " (segment action " + (i + 1)
                        + " of " + nactions + ")");
                }
            }
            return new GinxlogRecompressDataLeaf(actions);
        }

        /** {@link #need} for segment action {@code i}, its message made only when it fails (this runs per action). */
        private static void needForAction(WalRecord r, byte[] d, int n, int i, int nactions) {
            if (d.length < n) {
                need(r, d, n, "block 0 data (segment action " + (i + 1) + " of " + nactions + ")");
            }
        }
    }

    /** ginxlogSplit: only flags are read by the redo (the pages come as images). */
    record GinxlogSplit(int flags) {
        static GinxlogSplit parse(WalRecord r) {
            return new GinxlogSplit(Page.u16(main(r, 26), 24));
        }

        boolean isLeaf() {
            return (flags & GIN_INSERT_ISLEAF) != 0;
        }

        boolean isRoot() {
            return (flags & GIN_SPLIT_ROOT) != 0;
        }
    }

    record GinxlogDeletePage(int parentOffset, int rightLink, int deleteXid) {
        static GinxlogDeletePage parse(WalRecord r) {
            byte[] m = main(r, 12);
            return new GinxlogDeletePage(Page.u16(m, 0), Page.u32(m, 4), Page.u32(m, 8));
        }
    }

    /** ginxlogUpdateMeta; {@code metadata} is the GinMetaPageData as it is on the page. */
    record GinxlogUpdateMeta(byte[] metadata, int prevTail, int newRightlink, int ntuples) {
        static GinxlogUpdateMeta parse(WalRecord r) {
            byte[] m = main(r, 84);
            return new GinxlogUpdateMeta(java.util.Arrays.copyOfRange(m, 16, 16 + SIZE_OF_GIN_META_PAGE_DATA),
                Page.u32(m, 72), Page.u32(m, 76), Page.u32(m, 80));
        }
    }

    record GinxlogInsertListPage(int rightlink, int ntuples) {
        static GinxlogInsertListPage parse(WalRecord r) {
            byte[] m = main(r, 8);
            return new GinxlogInsertListPage(Page.u32(m, 0), Page.u32(m, 4));
        }
    }

    record GinxlogDeleteListPages(byte[] metadata, int ndeleted) {
        static GinxlogDeleteListPages parse(WalRecord r) {
            byte[] m = main(r, SIZE_OF_GIN_META_PAGE_DATA + 4);
            int ndeleted = Page.u32(m, SIZE_OF_GIN_META_PAGE_DATA);
            if (ndeleted < 0 || ndeleted > GIN_NDELETE_AT_ONCE) {
                throw malformed(r, "ndeleted " + ndeleted + " out of 0.." + GIN_NDELETE_AT_ONCE);
            }
            return new GinxlogDeleteListPages(java.util.Arrays.copyOf(m, SIZE_OF_GIN_META_PAGE_DATA), ndeleted);
        }
    }

    /**
     * The {@code ntuples} index tuples packed one after another (IndexTupleSize each, no
     * alignment) that the pending-list records carry in block {@code blockId}'s data: their
     * bounds, tuple i being bytes [bounds[i], bounds[i + 1]) of {@code d}. Offsets only, no
     * copies: a pending-list insert is the commonest GIN record of a fastupdate index.
     */
    static int[] indexTuples(WalRecord r, int blockId, byte[] d, int ntuples) {
        // a negative count is no tuple, as the redo's loops take it
        int n = Math.max(ntuples, 0);
        if ((long) n * SIZE_OF_INDEX_TUPLE > d.length) {
            throw malformed(r, "block " + blockId + " data of " + d.length + " bytes cannot hold " + n + " index tuples of at"
                + " least " + SIZE_OF_INDEX_TUPLE + " bytes");
        }
        int[] bounds = new int[n + 1];
        int pos = 0;
        for (int i = 0; i < n; i++) {
            int size = pos + SIZE_OF_INDEX_TUPLE <= d.length ? Page.u16(d, pos + 6) & INDEX_SIZE_MASK : 0;
            if (size < SIZE_OF_INDEX_TUPLE || pos + size > d.length) {
                // the message made only here: this runs per tuple
                String what = "block " + blockId + " data (tuple " + (i + 1) + " of " + n + ")";
                need(r, d, pos + SIZE_OF_INDEX_TUPLE, what);
                if (size < SIZE_OF_INDEX_TUPLE) {
                    throw malformed(r, what + " has an index tuple size of " + size);
                }
                need(r, d, pos + size, what);
            }
            pos += size;
            bounds[i + 1] = pos;
        }
        return bounds;
    }

    /**
     * The data of block {@code id} as the redo will read it, or null when it will not: the
     * block is restored from its image, or is absent. Absent data reads as empty.
     */
    static byte[] redoData(WalRecord r, int id) {
        BlockRef b = r.block(id);
        if (b == null || (b.hasImage() && b.applyImage())) {
            return null;
        }
        return b.data() == null ? new byte[0] : b.data();
    }

    private static void needBlock(WalRecord r, int id) {
        if (r.block(id) == null) {
            throw malformed(r, "no block " + id);
        }
    }

    /** XLogReadBufferForRedo must answer BLK_RESTORED: the block must come with an image to apply. */
    private static void needImage(WalRecord r, int id) {
        needBlock(r, id);
        BlockRef b = r.block(id);
        if (!(b.hasImage() && b.applyImage())) {
            throw malformed(r, "block " + id + " has no full-page image to restore");
        }
    }

    /** XLogInitBufferForRedo: PostgreSQL refuses a block it initializes without BKPBLOCK_WILL_INIT. */
    private static void needInit(WalRecord r, int id) {
        needBlock(r, id);
        BlockRef b = r.block(id);
        if (!b.willInit() && !(b.hasImage() && b.applyImage())) {
            throw malformed(r, "block " + id + " is initialized by the redo but not marked WILL_INIT");
        }
    }

    /**
     * The ingest check of a Gin record: a type PG15 writes, main data that parses, the blocks
     * gin_redo reads, and the data of those it does not restore from an image long enough for
     * what the main data announces.
     *
     * @throws RedoException naming the record and its LSN
     */
    static void check(WalRecord r) {
        int op = r.rmgrInfo();
        switch (op) {
            case XLOG_GIN_CREATE_PTREE -> {
                GinxlogCreatePostingTree.parse(r);
                needInit(r, 0);
            }
            case XLOG_GIN_INSERT -> {
                GinxlogInsert x = GinxlogInsert.parse(r);
                needBlock(r, 0);
                if (!x.isLeaf()) {
                    needBlock(r, 1);
                }
                byte[] d = redoData(r, 0);
                if (d != null) {
                    if (!x.isData()) {
                        GinxlogInsertEntry.parse(r, d);
                    } else if (x.isLeaf()) {
                        GinxlogRecompressDataLeaf.parse(r, d);
                    } else {
                        GinxlogInsertDataInternal.parse(r, d);
                    }
                }
            }
            case XLOG_GIN_SPLIT -> {
                GinxlogSplit x = GinxlogSplit.parse(r);
                needImage(r, 0);
                needImage(r, 1);
                if (x.isRoot()) {
                    needImage(r, 2);
                }
                if (!x.isLeaf()) {
                    needBlock(r, 3);
                }
            }
            case XLOG_GIN_VACUUM_PAGE -> needImage(r, 0);
            case XLOG_GIN_VACUUM_DATA_LEAF_PAGE -> {
                needBlock(r, 0);
                byte[] d = redoData(r, 0);
                if (d != null) {
                    GinxlogRecompressDataLeaf.parse(r, d);
                }
            }
            case XLOG_GIN_DELETE_PAGE -> {
                GinxlogDeletePage.parse(r);
                needBlock(r, 0);
                needBlock(r, 1);
                needBlock(r, 2);
            }
            case XLOG_GIN_UPDATE_META_PAGE -> {
                GinxlogUpdateMeta x = GinxlogUpdateMeta.parse(r);
                needInit(r, 0);
                if (x.ntuples() > 0) {
                    needBlock(r, 1);
                    byte[] d = redoData(r, 1);
                    if (d != null) {
                        indexTuples(r, 1, d, x.ntuples());
                    }
                } else if (x.prevTail() != INVALID_BLOCK_NUMBER) {
                    needBlock(r, 1);
                }
            }
            case XLOG_GIN_INSERT_LISTPAGE -> {
                GinxlogInsertListPage x = GinxlogInsertListPage.parse(r);
                needInit(r, 0);
                byte[] d = redoData(r, 0);
                if (d != null) {
                    indexTuples(r, 0, d, x.ntuples());
                }
            }
            case XLOG_GIN_DELETE_LISTPAGE -> {
                GinxlogDeleteListPages x = GinxlogDeleteListPages.parse(r);
                for (int i = 0; i <= x.ndeleted(); i++) {
                    needInit(r, i);
                }
            }
            default -> throw new RedoException("unknown Gin record type (xl_info 0x" + Integer.toHexString(r.info()) + ")",
                r.startLsn());
        }
    }
}
