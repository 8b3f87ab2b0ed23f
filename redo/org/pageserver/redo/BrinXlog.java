package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The RM_BRIN_ID record formats of brin_xlog.h (PG15): the opcodes, and one record per xl_brin_*
 * struct, decoded from the main data once with its length checked. Sizes are the SizeOf*
 * macros on x86-64 (printed by a C program against the PG15 headers); little-endian.
 *
 * <pre>
 * xl_brin_createidx        (6): pagesPerRange u32, version u16                     block 0 metapage (will init)
 * xl_brin_insert          (10): heapBlk u32, pagesPerRange u32, offnum u16         block 0 regular page + BrinTuple,
 *                                                                                  block 1 revmap page
 * xl_brin_update          (14): oldOffnum u16, pad, xl_brin_insert at 4            as insert, block 2 old page
 * xl_brin_samepage_update  (2): offnum u16                                         block 0 page + BrinTuple
 * xl_brin_revmap_extend    (4): targetBlk u32                                      block 0 metapage,
 *                                                                                  block 1 new revmap page (will init)
 * xl_brin_desummarize     (10): pagesPerRange u32, heapBlk u32, regOffset u16      block 0 revmap page, block 1 regular page
 * </pre>
 * XLOG_BRIN_INIT_PAGE on an insert or update: block 0 is a new page, initialized by redo.
 */
final class BrinXlog {
    static final int XLOG_BRIN_CREATE_INDEX = 0x00;
    static final int XLOG_BRIN_INSERT = 0x10;
    static final int XLOG_BRIN_UPDATE = 0x20;
    static final int XLOG_BRIN_SAMEPAGE_UPDATE = 0x30;
    static final int XLOG_BRIN_REVMAP_EXTEND = 0x40;
    static final int XLOG_BRIN_DESUMMARIZE = 0x50;
    static final int XLOG_BRIN_OPMASK = 0x70;
    static final int XLOG_BRIN_INIT_PAGE = 0x80;

    /** SizeOfBrinTuple (brin_tuple.h): bt_blkno u32 and bt_info u8, the least a BRIN tuple has. */
    static final int SIZE_OF_BRIN_TUPLE = 5;

    private BrinXlog() {
    }

    /** The record type's name as pg_waldump prints it (brin_identify), without "+INIT". */
    static String name(int info) {
        return switch (info & XLOG_BRIN_OPMASK) {
            case XLOG_BRIN_CREATE_INDEX -> "CREATE_INDEX";
            case XLOG_BRIN_INSERT -> "INSERT";
            case XLOG_BRIN_UPDATE -> "UPDATE";
            case XLOG_BRIN_SAMEPAGE_UPDATE -> "SAMEPAGE_UPDATE";
            case XLOG_BRIN_REVMAP_EXTEND -> "REVMAP_EXTEND";
            case XLOG_BRIN_DESUMMARIZE -> "DESUMMARIZE";
            default -> "0x" + Integer.toHexString(info);
        };
    }

    static RedoException malformed(WalRecord r, String what) {
        return new RedoException("malformed BRIN " + name(r.rmgrInfo()) + " record: " + what, r.startLsn());
    }

    private static byte[] mainData(WalRecord r, int size) {
        byte[] m = r.mainData();
        int n = m == null ? 0 : m.length;
        if (n < size) {
            throw malformed(r, "main data of " + n + " bytes, at least " + size + " needed");
        }
        return m;
    }

    /** pagesPerRange divides heap block numbers (HEAPBLK_TO_REVMAP_INDEX): 0 is no index PG makes. */
    private static int validPagesPerRange(WalRecord r, int v) {
        if (v == 0) {
            throw malformed(r, "pagesPerRange 0");
        }
        return v;
    }

    /** xl_brin_createidx. */
    record XlBrinCreateidx(int pagesPerRange, int version) {
        static final int SIZE = 6;

        static XlBrinCreateidx parse(WalRecord r) {
            byte[] m = mainData(r, SIZE);
            return new XlBrinCreateidx(Page.u32(m, 0), Page.u16(m, 4));
        }
    }

    /** xl_brin_insert; also the tail of xl_brin_update. */
    record XlBrinInsert(int heapBlk, int pagesPerRange, int offnum) {
        static final int SIZE = 10;

        static XlBrinInsert parse(WalRecord r) {
            return at(r, mainData(r, SIZE), 0);
        }

        static XlBrinInsert at(WalRecord r, byte[] m, int off) {
            return new XlBrinInsert(Page.u32(m, off), validPagesPerRange(r, Page.u32(m, off + 4)), Page.u16(m, off + 8));
        }
    }

    /** xl_brin_update: the old tuple's offset, then an xl_brin_insert (4-aligned). */
    record XlBrinUpdate(int oldOffnum, XlBrinInsert insert) {
        static final int SIZE = 14;
        static final int INSERT_OFFSET = 4;

        static XlBrinUpdate parse(WalRecord r) {
            byte[] m = mainData(r, SIZE);
            return new XlBrinUpdate(Page.u16(m, 0), XlBrinInsert.at(r, m, INSERT_OFFSET));
        }
    }

    /** xl_brin_samepage_update. */
    record XlBrinSamepageUpdate(int offnum) {
        static final int SIZE = 2;

        static XlBrinSamepageUpdate parse(WalRecord r) {
            return new XlBrinSamepageUpdate(Page.u16(mainData(r, SIZE), 0));
        }
    }

    /** xl_brin_revmap_extend. */
    record XlBrinRevmapExtend(int targetBlk) {
        static final int SIZE = 4;

        static XlBrinRevmapExtend parse(WalRecord r) {
            return new XlBrinRevmapExtend(Page.u32(mainData(r, SIZE), 0));
        }
    }

    /** xl_brin_desummarize. */
    record XlBrinDesummarize(int pagesPerRange, int heapBlk, int regOffset) {
        static final int SIZE = 10;

        static XlBrinDesummarize parse(WalRecord r) {
            byte[] m = mainData(r, SIZE);
            return new XlBrinDesummarize(validPagesPerRange(r, Page.u32(m, 0)), Page.u32(m, 4), Page.u16(m, 8));
        }
    }

    /**
     * The BrinTuple that is block {@code blockId}'s data (insert, update, samepage update), at
     * least SizeOfBrinTuple bytes.
     */
    static byte[] brinTuple(WalRecord r, int blockId) {
        BlockRef b = r.block(blockId);
        byte[] d = b == null ? null : b.data();
        int n = d == null ? 0 : d.length;
        if (n < SIZE_OF_BRIN_TUPLE) {
            throw malformed(r, "block " + blockId + " data of " + n + " bytes, at least " + SIZE_OF_BRIN_TUPLE
                + " (a BRIN tuple) needed");
        }
        return d;
    }

    /** The block ids PostgreSQL 15 registers for this record type (all of them read by brin_redo). */
    static int[] blocks(int info) {
        return switch (info & XLOG_BRIN_OPMASK) {
            case XLOG_BRIN_CREATE_INDEX, XLOG_BRIN_SAMEPAGE_UPDATE -> new int[] {0};
            case XLOG_BRIN_INSERT, XLOG_BRIN_REVMAP_EXTEND, XLOG_BRIN_DESUMMARIZE -> new int[] {0, 1};
            case XLOG_BRIN_UPDATE -> new int[] {0, 1, 2};
            default -> new int[0];
        };
    }

    /** A type PG15 writes: the six opcodes, XLOG_BRIN_INIT_PAGE only on an insert or update. */
    static boolean known(int info) {
        int op = info & XLOG_BRIN_OPMASK;
        if ((info & XLOG_BRIN_INIT_PAGE) != 0) {
            return op == XLOG_BRIN_INSERT || op == XLOG_BRIN_UPDATE;
        }
        return op <= XLOG_BRIN_DESUMMARIZE;
    }

    /**
     * The ingest check of a BRIN record: a type PG15 writes, main data as long as its struct,
     * exactly the blocks its redo reads, the pages redo initializes marked will-init, and a
     * BRIN tuple in the data of block 0 of an insert, update or samepage update unless block 0
     * is restored from its image.
     *
     * @throws RedoException naming the record and its LSN
     */
    static void check(WalRecord r) {
        int info = r.rmgrInfo();
        if (!known(info)) {
            throw new RedoException("unknown BRIN record type (xl_info 0x" + Integer.toHexString(r.info()) + ")",
                r.startLsn());
        }
        int[] blocks = blocks(info);
        for (int id : blocks) {
            if (r.block(id) == null) {
                throw malformed(r, "no block " + id);
            }
        }
        for (BlockRef b : r.blocks()) {
            if (b.blockId() >= blocks.length) {
                throw malformed(r, "unexpected block " + b.blockId());
            }
        }
        switch (info & XLOG_BRIN_OPMASK) {
            case XLOG_BRIN_CREATE_INDEX -> {
                XlBrinCreateidx.parse(r);
                needWillInit(r, 0);
            }
            case XLOG_BRIN_INSERT -> {
                XlBrinInsert.parse(r);
                checkNewTuple(r, info);
            }
            case XLOG_BRIN_UPDATE -> {
                XlBrinUpdate.parse(r);
                checkNewTuple(r, info);
            }
            case XLOG_BRIN_SAMEPAGE_UPDATE -> {
                XlBrinSamepageUpdate.parse(r);
                if (!restored(r.block(0))) {
                    brinTuple(r, 0);
                }
            }
            case XLOG_BRIN_REVMAP_EXTEND -> {
                XlBrinRevmapExtend.parse(r);
                needWillInit(r, 1);
            }
            default -> XlBrinDesummarize.parse(r);
        }
    }

    private static void checkNewTuple(WalRecord r, int info) {
        if ((info & XLOG_BRIN_INIT_PAGE) != 0) {
            needWillInit(r, 0);
        }
        if (!restored(r.block(0))) {
            brinTuple(r, 0);
        }
    }

    /** A page redo initializes (XLogInitBufferForRedo) comes as BKPBLOCK_WILL_INIT, never from an old version. */
    private static void needWillInit(WalRecord r, int id) {
        if (!r.block(id).willInit()) {
            throw malformed(r, "block " + id + " is initialized by redo but not marked will-init");
        }
    }

    static boolean restored(BlockRef b) {
        return b.hasImage() && b.applyImage();
    }
}
