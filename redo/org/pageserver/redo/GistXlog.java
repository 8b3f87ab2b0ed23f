package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The GiST WAL records of gistxlog.h (PG15): the XLOG_GIST_* opcodes, one Java record per
 * xl_* struct decoding its main data once (with its length check), the block data the redo
 * routines read, and {@link #check} for the ingest check. Sizes and offsets as a C program
 * printed them from the PG15 headers on x86-64 (little-endian):
 *
 * <pre>
 * gistxlogPageUpdate (4): ntodelete u16, ntoinsert u16
 *   block 0 data: ntodelete OffsetNumbers, then ntoinsert index tuples
 * gistxlogDelete (SizeOfGistxlogDelete 6): latestRemovedXid u32, ntodelete u16, then the
 *   ntodelete OffsetNumbers, in the main data too
 * gistxlogPageSplit (24): origrlink u32, pad, orignsn u64 @8, origleaf bool @16, npage u16 @18,
 *   markfollowright bool @20; blocks 1..npage data: an int count, then that many index tuples
 * gistxlogPageDelete (SizeOfGistxlogPageDelete 10): deleteXid u64, downlinkOffset u16 @8
 * gistxlogPageReuse (SizeOfGistxlogPageReuse 24): node (spcNode, dbNode, relNode u32),
 *   block u32 @12, latestRemovedFullXid u64 @16
 * ASSIGN_LSN: a dummy int, never read
 * </pre>
 */
final class GistXlog {
    static final int XLOG_GIST_PAGE_UPDATE = 0x00;
    static final int XLOG_GIST_DELETE = 0x10;
    static final int XLOG_GIST_PAGE_REUSE = 0x20;
    static final int XLOG_GIST_PAGE_SPLIT = 0x30;
    static final int XLOG_GIST_PAGE_DELETE = 0x60;
    static final int XLOG_GIST_ASSIGN_LSN = 0x70;

    static final int SIZE_OF_GISTXLOG_PAGE_UPDATE = 4;
    static final int SIZE_OF_GISTXLOG_DELETE = 6;
    static final int SIZE_OF_GISTXLOG_PAGE_SPLIT = 24;
    static final int SIZE_OF_GISTXLOG_PAGE_DELETE = 10;
    static final int SIZE_OF_GISTXLOG_PAGE_REUSE = 24;
    /** sizeof(IndexTupleData): t_tid (6 bytes) and t_info u16. */
    static final int SIZE_OF_INDEX_TUPLE = 8;
    /** INDEX_SIZE_MASK: the size bits of t_info. */
    static final int INDEX_SIZE_MASK = 0x1FFF;

    private GistXlog() {
    }

    /** gist_identify's names (gistdesc.c), or null for an opcode PG15 does not write. */
    static String name(int info) {
        return switch (info & WalRecord.XLR_RMGR_INFO_MASK) {
            case XLOG_GIST_PAGE_UPDATE -> "PAGE_UPDATE";
            case XLOG_GIST_DELETE -> "DELETE";
            case XLOG_GIST_PAGE_REUSE -> "PAGE_REUSE";
            case XLOG_GIST_PAGE_SPLIT -> "PAGE_SPLIT";
            case XLOG_GIST_PAGE_DELETE -> "PAGE_DELETE";
            case XLOG_GIST_ASSIGN_LSN -> "ASSIGN_LSN";
            default -> null;
        };
    }

    static RedoException malformed(WalRecord r, String what) {
        return new RedoException("malformed Gist " + name(r.info()) + " record: " + what, r.startLsn());
    }

    private static byte[] mainData(WalRecord r, int size) {
        byte[] m = r.mainData();
        int n = m == null ? 0 : m.length;
        if (n < size) {
            throw malformed(r, "main data of " + n + " bytes, at least " + size + " needed");
        }
        return m;
    }

    /** The u16 OffsetNumbers at {@code from}, {@code n} of them (the caller checked they are there). */
    private static int[] offsets(byte[] d, int from, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = Page.u16(d, from + 2 * i);
        }
        return out;
    }

    private static long u64(byte[] d, int off) {
        return (Page.u32(d, off) & 0xFFFFFFFFL) | (long) Page.u32(d, off + 4) << 32;
    }

    /**
     * Index tuples laid end to end in a block's data, each IndexTupleSize bytes long (t_info
     * &amp; INDEX_SIZE_MASK): where each starts and how long it is.
     */
    record IndexTuples(byte[] data, int[] offsets, int[] sizes) {
        int count() {
            return offsets.length;
        }

        /**
         * The {@code expected} tuples from {@code from} to the end of {@code data}, which they
         * must fill exactly (as PostgreSQL's redo asserts).
         */
        static IndexTuples parse(WalRecord r, int blockId, byte[] data, int from, int expected) {
            int[] offs = new int[expected];
            int[] sizes = new int[expected];
            int pos = from;
            for (int i = 0; i < expected; i++) {
                if (pos + SIZE_OF_INDEX_TUPLE > data.length) {
                    throw malformed(r, "block " + blockId + " data of " + data.length + " bytes ends inside index"
                        + " tuple " + (i + 1) + " of " + expected);
                }
                int size = Page.u16(data, pos + 6) & INDEX_SIZE_MASK;
                if (size < SIZE_OF_INDEX_TUPLE || pos + size > data.length) {
                    throw malformed(r, "block " + blockId + " index tuple " + (i + 1) + " of " + expected + " has size "
                        + size + " at byte " + pos + " of " + data.length);
                }
                offs[i] = pos;
                sizes[i] = size;
                pos += size;
            }
            if (pos != data.length) {
                throw malformed(r, "block " + blockId + " data of " + data.length + " bytes has " + (data.length - pos)
                    + " bytes after its " + expected + " index tuples");
            }
            return new IndexTuples(data, offs, sizes);
        }
    }

    /** gistxlogPageUpdate. */
    record GistxlogPageUpdate(int ntodelete, int ntoinsert) {
        static GistxlogPageUpdate parse(WalRecord r) {
            byte[] m = mainData(r, SIZE_OF_GISTXLOG_PAGE_UPDATE);
            return new GistxlogPageUpdate(Page.u16(m, 0), Page.u16(m, 2));
        }
    }

    /** The payload of a PAGE_UPDATE's block 0: the offsets to delete, then the tuples to insert. */
    record PageUpdatePayload(int[] todelete, IndexTuples tuples) {
        static PageUpdatePayload parse(WalRecord r, GistxlogPageUpdate xlrec, byte[] data) {
            byte[] d = data == null ? new byte[0] : data;
            int offsetsLen = 2 * xlrec.ntodelete();
            if (d.length < offsetsLen) {
                throw malformed(r, "block 0 data of " + d.length + " bytes, " + xlrec.ntodelete()
                    + " offsets to delete announced");
            }
            return new PageUpdatePayload(offsets(d, 0, xlrec.ntodelete()),
                IndexTuples.parse(r, 0, d, offsetsLen, xlrec.ntoinsert()));
        }
    }

    /** gistxlogDelete with the offsets that follow it in the main data. */
    record GistxlogDelete(int latestRemovedXid, int[] todelete) {
        static GistxlogDelete parse(WalRecord r) {
            byte[] m = mainData(r, SIZE_OF_GISTXLOG_DELETE);
            int n = Page.u16(m, 4);
            if (m.length < SIZE_OF_GISTXLOG_DELETE + 2 * n) {
                throw malformed(r, "main data of " + m.length + " bytes, " + n + " offsets to delete announced");
            }
            return new GistxlogDelete(Page.u32(m, 0), offsets(m, SIZE_OF_GISTXLOG_DELETE, n));
        }
    }

    /** gistxlogPageSplit. */
    record GistxlogPageSplit(int origrlink, long orignsn, boolean origleaf, int npage, boolean markfollowright) {
        static GistxlogPageSplit parse(WalRecord r) {
            byte[] m = mainData(r, SIZE_OF_GISTXLOG_PAGE_SPLIT);
            int npage = Page.u16(m, 18);
            if (npage == 0) {
                throw malformed(r, "no pages");
            }
            return new GistxlogPageSplit(Page.u32(m, 0), u64(m, 8), m[16] != 0, npage, m[20] != 0);
        }
    }

    /** decodePageSplitRecord: a split page's block data, an int count and that many tuples. */
    static IndexTuples decodePageSplitRecord(WalRecord r, int blockId, byte[] data) {
        byte[] d = data == null ? new byte[0] : data;
        if (d.length < 4) {
            throw malformed(r, "block " + blockId + " data of " + d.length + " bytes, no tuple count");
        }
        int n = Page.u32(d, 0);
        if (n < 0 || n > d.length / SIZE_OF_INDEX_TUPLE) {
            throw malformed(r, "block " + blockId + " announces " + n + " tuples in " + d.length + " bytes");
        }
        return IndexTuples.parse(r, blockId, d, 4, n);
    }

    /** gistxlogPageDelete. */
    record GistxlogPageDelete(long deleteXid, int downlinkOffset) {
        static GistxlogPageDelete parse(WalRecord r) {
            byte[] m = mainData(r, SIZE_OF_GISTXLOG_PAGE_DELETE);
            return new GistxlogPageDelete(u64(m, 0), Page.u16(m, 8));
        }
    }

    /** gistxlogPageReuse: only a recovery conflict point for hot standby; it changes no page. */
    record GistxlogPageReuse(int spcNode, int dbNode, int relNode, int block, long latestRemovedFullXid) {
        static GistxlogPageReuse parse(WalRecord r) {
            byte[] m = mainData(r, SIZE_OF_GISTXLOG_PAGE_REUSE);
            return new GistxlogPageReuse(Page.u32(m, 0), Page.u32(m, 4), Page.u32(m, 8), Page.u32(m, 12), u64(m, 16));
        }
    }

    /** The block's data as redo will read it, or null when it is restored from its image instead. */
    private static byte[] redoData(BlockRef b) {
        if (b.hasImage() && b.applyImage()) {
            return null;
        }
        return b.data() == null ? new byte[0] : b.data();
    }

    private static void need(WalRecord r, int blockId) {
        if (r.block(blockId) == null) {
            throw malformed(r, "no block " + blockId);
        }
    }

    /**
     * The ingest check of a Gist record: a type PG15 writes, its main data whole, the blocks
     * gist_redo reads there and no others, and the data of each block not restored from an
     * image as long as the main data announces.
     *
     * @throws RedoException naming the record and its LSN
     */
    static void check(WalRecord r) {
        int info = r.rmgrInfo();
        if (name(info) == null) {
            throw new RedoException("unknown " + RmgrId.name(r.rmid()) + " record type (xl_info 0x"
                + Integer.toHexString(r.info()) + ")", r.startLsn());
        }
        int maxBlock = -1;
        switch (info) {
            case XLOG_GIST_PAGE_UPDATE -> {
                GistxlogPageUpdate xlrec = GistxlogPageUpdate.parse(r);
                need(r, 0);
                byte[] d = redoData(r.block(0));
                if (d != null) {
                    PageUpdatePayload.parse(r, xlrec, d);
                }
                maxBlock = 1; // block 1: the left child whose split this downlink completes
            }
            case XLOG_GIST_DELETE -> {
                GistxlogDelete.parse(r);
                need(r, 0);
                maxBlock = 0;
            }
            case XLOG_GIST_PAGE_SPLIT -> {
                GistxlogPageSplit xlrec = GistxlogPageSplit.parse(r);
                for (int i = 1; i <= xlrec.npage(); i++) {
                    need(r, i);
                    byte[] d = redoData(r.block(i));
                    if (d != null) {
                        decodePageSplitRecord(r, i, d);
                    }
                }
                maxBlock = xlrec.npage(); // block 0: the left child, when the split completes its split
            }
            case XLOG_GIST_PAGE_DELETE -> {
                GistxlogPageDelete.parse(r);
                need(r, 0);
                need(r, 1);
                maxBlock = 1;
            }
            case XLOG_GIST_PAGE_REUSE -> GistxlogPageReuse.parse(r);
            default -> {
                // ASSIGN_LSN: only a distinct LSN, its dummy int is never read
            }
        }
        for (BlockRef b : r.blocks()) {
            if (b.blockId() > maxBlock) {
                throw malformed(r, "block " + b.blockId() + ", which its redo does not read");
            }
        }
    }
}
