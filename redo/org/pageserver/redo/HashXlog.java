package org.pageserver.redo;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The hash index WAL records (access/hash_xlog.h, PG15): their opcodes, their main data decoded
 * once into a Java record per xl_* struct (with its length check), the block data their redo
 * routines read, and the ingest check of a record ({@link #check}). Little-endian throughout.
 * Every malformed record is a {@link RedoException} "malformed Hash &lt;TYPE&gt; record: ..."
 * naming the record's LSN.
 */
public final class HashXlog {
    public static final int XLOG_HASH_INIT_META_PAGE = 0x00;
    public static final int XLOG_HASH_INIT_BITMAP_PAGE = 0x10;
    public static final int XLOG_HASH_INSERT = 0x20;
    public static final int XLOG_HASH_ADD_OVFL_PAGE = 0x30;
    public static final int XLOG_HASH_SPLIT_ALLOCATE_PAGE = 0x40;
    public static final int XLOG_HASH_SPLIT_PAGE = 0x50;
    public static final int XLOG_HASH_SPLIT_COMPLETE = 0x60;
    public static final int XLOG_HASH_MOVE_PAGE_CONTENTS = 0x70;
    public static final int XLOG_HASH_SQUEEZE_PAGE = 0x80;
    public static final int XLOG_HASH_DELETE = 0x90;
    public static final int XLOG_HASH_SPLIT_CLEANUP = 0xA0;
    public static final int XLOG_HASH_UPDATE_META_PAGE = 0xB0;
    public static final int XLOG_HASH_VACUUM_ONE_PAGE = 0xC0;

    /** xl_hash_split_allocate_page.flags. */
    static final int XLH_SPLIT_META_UPDATE_MASKS = 1;
    static final int XLH_SPLIT_META_UPDATE_SPLITPOINT = 1 << 1;

    /** IndexTupleData: t_tid (6) and t_info u16, whose low 13 bits are the tuple's size. */
    static final int SIZE_OF_INDEX_TUPLE = 8;
    static final int INDEX_SIZE_MASK = 0x1FFF;

    private HashXlog() {
    }

    /** hash_identify (hashdesc.c): the record type's name, null for an opcode PG15 does not write. */
    public static String identify(int info) {
        return switch (info & WalRecord.XLR_RMGR_INFO_MASK) {
            case XLOG_HASH_INIT_META_PAGE -> "INIT_META_PAGE";
            case XLOG_HASH_INIT_BITMAP_PAGE -> "INIT_BITMAP_PAGE";
            case XLOG_HASH_INSERT -> "INSERT";
            case XLOG_HASH_ADD_OVFL_PAGE -> "ADD_OVFL_PAGE";
            case XLOG_HASH_SPLIT_ALLOCATE_PAGE -> "SPLIT_ALLOCATE_PAGE";
            case XLOG_HASH_SPLIT_PAGE -> "SPLIT_PAGE";
            case XLOG_HASH_SPLIT_COMPLETE -> "SPLIT_COMPLETE";
            case XLOG_HASH_MOVE_PAGE_CONTENTS -> "MOVE_PAGE_CONTENTS";
            case XLOG_HASH_SQUEEZE_PAGE -> "SQUEEZE_PAGE";
            case XLOG_HASH_DELETE -> "DELETE";
            case XLOG_HASH_SPLIT_CLEANUP -> "SPLIT_CLEANUP";
            case XLOG_HASH_UPDATE_META_PAGE -> "UPDATE_META_PAGE";
            case XLOG_HASH_VACUUM_ONE_PAGE -> "VACUUM_ONE_PAGE";
            default -> null;
        };
    }

    static RedoException malformed(WalRecord r, String what) {
        String name = identify(r.info());
        return new RedoException("malformed Hash " + (name == null ? "0x" + Integer.toHexString(r.info()) : name)
            + " record: " + what, r.startLsn());
    }

    /** The main data, at least {@code size} bytes (the SizeOfHash* of its struct). */
    private static byte[] main(WalRecord r, int size) {
        byte[] m = r.mainData() == null ? new byte[0] : r.mainData();
        if (m.length < size) {
            throw malformed(r, "main data of " + m.length + " bytes, at least " + size + " needed");
        }
        return m;
    }

    private static boolean bool(byte[] m, int off) {
        return m[off] != 0;
    }

    // ------------------------------------------------------------ main data, one record per xl_* struct

    /** xl_hash_init_meta_page: num_tuples f64, procid u32, ffactor u16. */
    record XlHashInitMetaPage(double numTuples, int procid, int ffactor) {
        static final int SIZE = 14;

        static XlHashInitMetaPage parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            double numTuples = Double.longBitsToDouble(HashPage.u64(m, 0));
            int ffactor = Page.u16(m, 12);
            if (ffactor == 0) {
                throw malformed(r, "fill factor 0");
            }
            return new XlHashInitMetaPage(numTuples, Page.u32(m, 8), ffactor);
        }
    }

    /** xl_hash_init_bitmap_page: bmsize u16. */
    record XlHashInitBitmapPage(int bmsize) {
        static final int SIZE = 2;

        static XlHashInitBitmapPage parse(WalRecord r) {
            return new XlHashInitBitmapPage(Page.u16(main(r, SIZE), 0));
        }
    }

    /** xl_hash_insert: offnum u16. */
    record XlHashInsert(int offnum) {
        static final int SIZE = 2;

        static XlHashInsert parse(WalRecord r) {
            return new XlHashInsert(Page.u16(main(r, SIZE), 0));
        }
    }

    /** xl_hash_add_ovfl_page: bmsize u16, bmpage_found bool. */
    record XlHashAddOvflPage(int bmsize, boolean bmpageFound) {
        static final int SIZE = 3;

        static XlHashAddOvflPage parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashAddOvflPage(Page.u16(m, 0), bool(m, 2));
        }
    }

    /** xl_hash_split_allocate_page: new_bucket u32, old_bucket_flag u16, new_bucket_flag u16, flags u8. */
    record XlHashSplitAllocatePage(int newBucket, int oldBucketFlag, int newBucketFlag, int flags) {
        static final int SIZE = 9;

        static XlHashSplitAllocatePage parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashSplitAllocatePage(Page.u32(m, 0), Page.u16(m, 4), Page.u16(m, 6), m[8] & 0xFF);
        }

        /** The metapage's block data: lowmask, highmask (MASKS); ovflpoint, its spares (SPLITPOINT). */
        int metaDataLength() {
            return ((flags & XLH_SPLIT_META_UPDATE_MASKS) != 0 ? 8 : 0)
                + ((flags & XLH_SPLIT_META_UPDATE_SPLITPOINT) != 0 ? 8 : 0);
        }
    }

    /** xl_hash_split_complete: old_bucket_flag u16, new_bucket_flag u16. */
    record XlHashSplitComplete(int oldBucketFlag, int newBucketFlag) {
        static final int SIZE = 4;

        static XlHashSplitComplete parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashSplitComplete(Page.u16(m, 0), Page.u16(m, 2));
        }
    }

    /** xl_hash_move_page_contents: ntups u16, is_prim_bucket_same_wrt bool. */
    record XlHashMovePageContents(int ntups, boolean isPrimBucketSameWrt) {
        static final int SIZE = 3;

        static XlHashMovePageContents parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashMovePageContents(Page.u16(m, 0), bool(m, 2));
        }
    }

    /**
     * xl_hash_squeeze_page: prevblkno u32, nextblkno u32, ntups u16, is_prim_bucket_same_wrt
     * bool, is_prev_bucket_same_wrt bool.
     */
    record XlHashSqueezePage(int prevblkno, int nextblkno, int ntups, boolean isPrimBucketSameWrt,
                             boolean isPrevBucketSameWrt) {
        static final int SIZE = 12;

        static XlHashSqueezePage parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashSqueezePage(Page.u32(m, 0), Page.u32(m, 4), Page.u16(m, 8), bool(m, 10), bool(m, 11));
        }
    }

    /** xl_hash_delete: clear_dead_marking bool, is_primary_bucket_page bool. */
    record XlHashDelete(boolean clearDeadMarking, boolean isPrimaryBucketPage) {
        static final int SIZE = 2;

        static XlHashDelete parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            return new XlHashDelete(bool(m, 0), bool(m, 1));
        }
    }

    /** xl_hash_update_meta_page: ntuples f64. */
    record XlHashUpdateMetaPage(double ntuples) {
        static final int SIZE = 8;

        static XlHashUpdateMetaPage parse(WalRecord r) {
            return new XlHashUpdateMetaPage(Double.longBitsToDouble(HashPage.u64(main(r, SIZE), 0)));
        }
    }

    /**
     * xl_hash_vacuum_one_page: latestRemovedXid u32, ntuples int, then (when the main data is
     * longer than that) the ntuples offsets to delete; {@code offsets} is null without them.
     */
    record XlHashVacuumOnePage(int latestRemovedXid, int ntuples, int[] offsets) {
        static final int SIZE = 8;

        static XlHashVacuumOnePage parse(WalRecord r) {
            byte[] m = main(r, SIZE);
            int ntuples = Page.u32(m, 4);
            if (ntuples < 0) {
                throw malformed(r, "ntuples " + ntuples);
            }
            int[] offsets = null;
            // hash_xlog_vacuum_one_page reads the offsets only when there is more than the struct
            if (m.length > SIZE) {
                if ((m.length - SIZE) / 2 < ntuples) {
                    throw malformed(r, "main data of " + m.length + " bytes, " + ntuples + " offsets announced");
                }
                offsets = new int[ntuples];
                for (int i = 0; i < ntuples; i++) {
                    offsets[i] = Page.u16(m, SIZE + 2 * i);
                }
            }
            return new XlHashVacuumOnePage(Page.u32(m, 0), ntuples, offsets);
        }
    }

    // ------------------------------------------------------------ block data

    /** The block's data, empty when it has none. */
    private static byte[] data(WalRecord r, int blockId) {
        BlockRef b = r.block(blockId);
        if (b == null) {
            throw malformed(r, "no block " + blockId);
        }
        return b.data() == null ? new byte[0] : b.data();
    }

    /** INSERT's block 0 data: the index tuple, at least its IndexTupleData. */
    static byte[] insertedTuple(WalRecord r) {
        byte[] d = data(r, 0);
        if (d.length < SIZE_OF_INDEX_TUPLE) {
            throw malformed(r, "block 0 data of " + d.length + " bytes, an index tuple (" + SIZE_OF_INDEX_TUPLE
                + ") needed");
        }
        return d;
    }

    /** A uint32 block data: a bucket number, a bitmap bit, hashm_firstfree. */
    static int blockU32(WalRecord r, int blockId, String what) {
        byte[] d = data(r, blockId);
        if (d.length < 4) {
            throw malformed(r, "block " + blockId + " data of " + d.length + " bytes, its " + what + " (4) needed");
        }
        return Page.u32(d, 0);
    }

    /** The block data of the SPLIT_ALLOCATE_PAGE metapage, what {@code x.flags} announce. */
    record HashSplitMetaData(int lowmask, int highmask, int ovflpoint, int ovflpages) {
        static HashSplitMetaData parse(WalRecord r, XlHashSplitAllocatePage x) {
            byte[] d = data(r, 2);
            if (d.length < x.metaDataLength()) {
                throw malformed(r, "block 2 data of " + d.length + " bytes, flags 0x" + Integer.toHexString(x.flags())
                    + " announce " + x.metaDataLength());
            }
            int at = 0;
            int lowmask = 0;
            int highmask = 0;
            if ((x.flags() & XLH_SPLIT_META_UPDATE_MASKS) != 0) {
                lowmask = Page.u32(d, 0);
                highmask = Page.u32(d, 4);
                at = 8;
            }
            int ovflpoint = 0;
            int ovflpages = 0;
            if ((x.flags() & XLH_SPLIT_META_UPDATE_SPLITPOINT) != 0) {
                ovflpoint = Page.u32(d, at);
                ovflpages = Page.u32(d, at + 4);
                if (Integer.compareUnsigned(ovflpoint, HashPage.HASH_MAX_SPLITPOINTS) >= 0) {
                    throw malformed(r, "splitpoint " + Integer.toUnsignedString(ovflpoint) + " of "
                        + HashPage.HASH_MAX_SPLITPOINTS);
                }
            }
            return new HashSplitMetaData(lowmask, highmask, ovflpoint, ovflpages);
        }
    }

    /**
     * Offset numbers filling a block's data (DELETE's block 1, MOVE_PAGE_CONTENTS's block 2):
     * the tuples to delete, ascending.
     */
    static int[] offsets(WalRecord r, int blockId) {
        byte[] d = data(r, blockId);
        if (d.length % 2 != 0) {
            throw malformed(r, "block " + blockId + " data of odd length " + d.length + " (offsets are u16)");
        }
        int[] out = new int[d.length / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = Page.u16(d, 2 * i);
        }
        return out;
    }

    /** One index tuple of a block's data: where it starts and its MAXALIGNed size. */
    record MovedTuple(int offnum, int start, int size) {
    }

    /**
     * The tuples MOVE_PAGE_CONTENTS and SQUEEZE_PAGE add to their block 1: {@code ntups}
     * offset numbers, then the tuples, each MAXALIGN(IndexTupleSize) bytes, exactly
     * {@code ntups} of them (hash_xlog_move_page_contents walks them to the data's end).
     */
    static List<MovedTuple> movedTuples(WalRecord r, int ntups) {
        List<MovedTuple> out = new ArrayList<>(ntups);
        if (ntups == 0) {
            return out;
        }
        byte[] d = data(r, 1);
        if (d.length < 2 * ntups) {
            throw malformed(r, "block 1 data of " + d.length + " bytes, " + ntups + " offsets announced");
        }
        int pos = 2 * ntups;
        while (pos < d.length) {
            if (out.size() == ntups) {
                throw malformed(r, "block 1 data holds more than the " + ntups + " tuples announced");
            }
            if (pos + SIZE_OF_INDEX_TUPLE > d.length) {
                throw malformed(r, "block 1 data of " + d.length + " bytes ends inside tuple " + (out.size() + 1));
            }
            int size = Page.maxAlign(Page.u16(d, pos + 6) & INDEX_SIZE_MASK);
            if (size < SIZE_OF_INDEX_TUPLE || pos + size > d.length) {
                throw malformed(r, "block 1 tuple " + (out.size() + 1) + " of " + size + " bytes at " + pos
                    + " in data of " + d.length);
            }
            out.add(new MovedTuple(Page.u16(d, 2 * out.size()), pos, size));
            pos += size;
        }
        if (out.size() != ntups) {
            throw malformed(r, "block 1 data holds " + out.size() + " of the " + ntups + " tuples announced");
        }
        return out;
    }

    // ------------------------------------------------------------ the ingest check

    /**
     * Refuses what hash_redo (PG15) could not replay: a record type PG15 does not write, main
     * data shorter than its struct (or than the offsets it counts), a block the redo routine
     * reads missing or a block it does not know, and the block data of each block not restored
     * from its image shorter than what the main data announces. A SPLIT_PAGE must restore its
     * page from the image (its redo does nothing else).
     */
    public static void check(WalRecord r) {
        int op = r.rmgrInfo();
        if (identify(op) == null) {
            throw new RedoException("unknown Hash record type (xl_info 0x" + Integer.toHexString(r.info()) + ")",
                r.startLsn());
        }
        switch (op) {
            case XLOG_HASH_INIT_META_PAGE -> {
                XlHashInitMetaPage.parse(r);
                blocks(r, new int[] {0});
            }
            case XLOG_HASH_INIT_BITMAP_PAGE -> {
                XlHashInitBitmapPage x = XlHashInitBitmapPage.parse(r);
                checkBitmapSize(r, x.bmsize());
                blocks(r, new int[] {0, 1});
            }
            case XLOG_HASH_INSERT -> {
                XlHashInsert.parse(r);
                blocks(r, new int[] {0, 1});
                if (redone(r, 0)) {
                    insertedTuple(r);
                }
            }
            case XLOG_HASH_ADD_OVFL_PAGE -> {
                XlHashAddOvflPage x = XlHashAddOvflPage.parse(r);
                blocks(r, new int[] {0, 1, 4}, 2, 3);
                if (r.block(3) != null) {
                    checkBitmapSize(r, x.bmsize());
                }
                if (redone(r, 0)) {
                    blockU32(r, 0, "bucket");
                }
                if (r.block(2) != null && redone(r, 2)) {
                    blockU32(r, 2, "bitmap bit");
                }
                if (redone(r, 4)) {
                    blockU32(r, 4, "hashm_firstfree");
                }
            }
            case XLOG_HASH_SPLIT_ALLOCATE_PAGE -> {
                XlHashSplitAllocatePage x = XlHashSplitAllocatePage.parse(r);
                blocks(r, new int[] {0, 1, 2});
                if (redone(r, 2)) {
                    HashSplitMetaData.parse(r, x);
                }
            }
            case XLOG_HASH_SPLIT_PAGE -> {
                blocks(r, new int[] {0});
                if (redone(r, 0)) {
                    throw malformed(r, "block 0 has no full-page image to restore");
                }
            }
            case XLOG_HASH_SPLIT_COMPLETE -> {
                XlHashSplitComplete.parse(r);
                blocks(r, new int[] {0, 1});
            }
            case XLOG_HASH_MOVE_PAGE_CONTENTS -> {
                XlHashMovePageContents x = XlHashMovePageContents.parse(r);
                blocks(r, x.isPrimBucketSameWrt() ? new int[] {1, 2} : new int[] {0, 1, 2});
                if (redone(r, 1)) {
                    movedTuples(r, x.ntups());
                }
                if (redone(r, 2)) {
                    offsets(r, 2);
                }
            }
            case XLOG_HASH_SQUEEZE_PAGE -> {
                XlHashSqueezePage x = XlHashSqueezePage.parse(r);
                // the freed page is an overflow page, so it has a previous page: block 3 unless
                // the tuples went to that very page
                int[] required = x.isPrimBucketSameWrt()
                    ? (x.isPrevBucketSameWrt() ? new int[] {1, 2, 5} : new int[] {1, 2, 3, 5})
                    : (x.isPrevBucketSameWrt() ? new int[] {0, 1, 2, 5} : new int[] {0, 1, 2, 3, 5});
                blocks(r, required, 4, 6);
                if (redone(r, 1)) {
                    movedTuples(r, x.ntups());
                }
                if (redone(r, 5)) {
                    blockU32(r, 5, "bitmap bit");
                }
                if (r.block(6) != null && redone(r, 6)) {
                    blockU32(r, 6, "hashm_firstfree");
                }
            }
            case XLOG_HASH_DELETE -> {
                XlHashDelete x = XlHashDelete.parse(r);
                blocks(r, x.isPrimaryBucketPage() ? new int[] {1} : new int[] {0, 1});
                if (redone(r, 1)) {
                    offsets(r, 1);
                }
            }
            case XLOG_HASH_SPLIT_CLEANUP -> blocks(r, new int[] {0});
            case XLOG_HASH_UPDATE_META_PAGE -> {
                XlHashUpdateMetaPage.parse(r);
                blocks(r, new int[] {0});
            }
            case XLOG_HASH_VACUUM_ONE_PAGE -> {
                XlHashVacuumOnePage.parse(r);
                blocks(r, new int[] {0, 1});
            }
            default -> throw new IllegalStateException("identify() knows 0x" + Integer.toHexString(op));
        }
    }

    /** The bitmap must fit between the page header and the special space (HashGetMaxBitmapSize). */
    private static void checkBitmapSize(WalRecord r, int bmsize) {
        int max = Page.BLCKSZ - HashPage.CONTENTS - HashPage.SIZE_OF_OPAQUE;
        if (bmsize > max) {
            throw malformed(r, "bitmap of " + bmsize + " bytes, a page holds " + max);
        }
    }

    /** True when redo reads the block's data: it is not restored from its full-page image. */
    private static boolean redone(WalRecord r, int blockId) {
        BlockRef b = r.block(blockId);
        return !(b.hasImage() && b.applyImage());
    }

    /** Every block in {@code required} is there, and no block outside it and {@code optional}. */
    private static void blocks(WalRecord r, int[] required, int... optional) {
        for (int id : required) {
            if (r.block(id) == null) {
                throw malformed(r, "no block " + id);
            }
        }
        for (BlockRef b : r.blocks()) {
            if (!contains(required, b.blockId()) && !contains(optional, b.blockId())) {
                throw malformed(r, "unexpected block " + b.blockId());
            }
        }
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }
}
