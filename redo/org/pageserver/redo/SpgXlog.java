package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The SP-GiST WAL records (access/spgxlog.h, PG15): the record types, and one Java record per
 * xl struct, decoded once from a record's main data with its length checks, for the redo
 * ({@link SpgRedo}) and the ingest check ({@link #check}) alike.
 *
 * <p>SP-GiST logs no block data: the offsets and the tuples, unaligned, follow the struct in
 * the main data. Layouts on x86-64 (offsets read off the PG15 headers with a C program
 * printing offsetof and sizeof; bools are one byte, spgxlogState is myXid u32, isBuild bool,
 * 8 bytes aligned on 4):
 * <pre>
 * spgxlogAddLeaf (10):      newPage 0, storesNulls 1, offnumLeaf u16 2, offnumHeadLeaf u16 4,
 *                           offnumParent u16 6, nodeI u16 8; the leaf tuple
 * spgxlogMoveLeafs (20):    nMoves u16 0, newPage 2, replaceDead 3, storesNulls 4, offnumParent u16 6,
 *                           nodeI u16 8, stateSrc 12; nMoves deleted offsets, nInsert inserted offsets,
 *                           nInsert leaf tuples (nInsert = replaceDead ? 1 : nMoves + 1)
 * spgxlogAddNode (20):      offnum u16 0, offnumNew u16 2, newPage 4, parentBlk int8 5,
 *                           offnumParent u16 6, nodeI u16 8, stateSrc 12; the new inner tuple
 * spgxlogSplitTuple (6):    offnumPrefix u16 0, offnumPostfix u16 2, newPage 4, postfixBlkSame 5;
 *                           the prefix inner tuple, then the postfix inner tuple
 * spgxlogPickSplit (28):    isRootSplit 0, nDelete u16 2, nInsert u16 4, initSrc 6, initDest 7,
 *                           offnumInner u16 8, initInner 10, storesNulls 11, innerIsParent 12,
 *                           offnumParent u16 14, nodeI u16 16, stateSrc 20; nDelete and nInsert
 *                           offsets, nInsert page selector bytes, the inner tuple, nInsert leaf tuples
 * spgxlogVacuumLeaf (16):   nDead, nPlaceholder, nMove, nChain u16, stateSrc 8; offsets to become
 *                           DEAD, PLACEHOLDER, moved from, moved to, chain sources, chain targets
 * spgxlogVacuumRoot (12):   nDelete u16 0, stateSrc 4; offsets to delete
 * spgxlogVacuumRedirect (8): nToPlaceholder u16 0, firstPlaceholder u16 2, newestRedirectXid u32 4;
 *                           offsets of redirects to become placeholders
 * </pre>
 * A tuple's length is in its own header: a leaf tuple's size is the 30 bits above tupstate in
 * its first word (SpGistLeafTupleData, 12 bytes), an inner tuple's the u16 at 4
 * (SpGistInnerTupleData, 8 bytes).
 */
public final class SpgXlog {
    public static final int XLOG_SPGIST_ADD_LEAF = 0x10;
    public static final int XLOG_SPGIST_MOVE_LEAFS = 0x20;
    public static final int XLOG_SPGIST_ADD_NODE = 0x30;
    public static final int XLOG_SPGIST_SPLIT_TUPLE = 0x40;
    public static final int XLOG_SPGIST_PICKSPLIT = 0x50;
    public static final int XLOG_SPGIST_VACUUM_LEAF = 0x60;
    public static final int XLOG_SPGIST_VACUUM_ROOT = 0x70;
    public static final int XLOG_SPGIST_VACUUM_REDIRECT = 0x80;

    static final int SIZE_OF_SPGXLOG_ADD_LEAF = 10;
    static final int SIZE_OF_SPGXLOG_MOVE_LEAFS = 20;
    static final int SIZE_OF_SPGXLOG_ADD_NODE = 20;
    static final int SIZE_OF_SPGXLOG_SPLIT_TUPLE = 6;
    static final int SIZE_OF_SPGXLOG_PICK_SPLIT = 28;
    static final int SIZE_OF_SPGXLOG_VACUUM_LEAF = 16;
    static final int SIZE_OF_SPGXLOG_VACUUM_ROOT = 12;
    static final int SIZE_OF_SPGXLOG_VACUUM_REDIRECT = 8;

    private SpgXlog() {
    }

    /** The record type's name as pg_waldump prints it (spg_identify), or null for one PG15 does not write. */
    static String name(int info) {
        return switch (info & WalRecord.XLR_RMGR_INFO_MASK) {
            case XLOG_SPGIST_ADD_LEAF -> "ADD_LEAF";
            case XLOG_SPGIST_MOVE_LEAFS -> "MOVE_LEAFS";
            case XLOG_SPGIST_ADD_NODE -> "ADD_NODE";
            case XLOG_SPGIST_SPLIT_TUPLE -> "SPLIT_TUPLE";
            case XLOG_SPGIST_PICKSPLIT -> "PICKSPLIT";
            case XLOG_SPGIST_VACUUM_LEAF -> "VACUUM_LEAF";
            case XLOG_SPGIST_VACUUM_ROOT -> "VACUUM_ROOT";
            case XLOG_SPGIST_VACUUM_REDIRECT -> "VACUUM_REDIRECT";
            default -> null;
        };
    }

    static RedoException unknown(WalRecord r) {
        return new RedoException("unknown " + RmgrId.name(r.rmid()) + " record type (xl_info 0x"
            + Integer.toHexString(r.info()) + ")", r.startLsn());
    }

    static RedoException malformed(WalRecord r, String what) {
        return new RedoException("malformed SPGist " + name(r.info()) + " record: " + what, r.startLsn());
    }

    /** spgxlogState: what redo needs of the SpGistState (fillFakeState). */
    public record SpgxlogState(int myXid, boolean isBuild) {
        static SpgxlogState read(byte[] m, int at) {
            return new SpgxlogState(Page.u32(m, at), m[at + 4] != 0);
        }
    }

    /** Reads a record's main data front to back, refusing to read past its end. */
    private static final class Reader {
        private final WalRecord r;
        private final byte[] m;
        private int pos;

        Reader(WalRecord r, int fixed) {
            this.r = r;
            this.m = r.mainData() == null ? new byte[0] : r.mainData();
            if (m.length < fixed) {
                throw malformed(r, "main data of " + m.length + " bytes, at least " + fixed + " needed");
            }
            this.pos = fixed;
        }

        byte[] main() {
            return m;
        }

        int[] offsets(int n, String what) {
            if (pos + 2L * n > m.length) {
                throw malformed(r, "main data of " + m.length + " bytes ends inside the " + n + " " + what);
            }
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = Page.u16(m, pos + 2 * i);
            }
            pos += 2 * n;
            return out;
        }

        byte[] bytes(int n, String what) {
            if (pos + (long) n > m.length) {
                throw malformed(r, "main data of " + m.length + " bytes ends inside the " + n + " " + what);
            }
            byte[] out = java.util.Arrays.copyOfRange(m, pos, pos + n);
            pos += n;
            return out;
        }

        /** A leaf tuple: SpGistLeafTupleData, then the rest of its size. */
        byte[] leafTuple(String what) {
            return tuple(SpgPage.SIZE_OF_LEAF_TUPLE_DATA, what, true);
        }

        /** An inner tuple: SpGistInnerTupleData, then the rest of its size. */
        byte[] innerTuple(String what) {
            return tuple(SpgPage.SGITHDRSZ, what, false);
        }

        private byte[] tuple(int header, String what, boolean leaf) {
            if (pos + header > m.length) {
                throw malformed(r, "main data of " + m.length + " bytes ends inside the header of the " + what);
            }
            long size = leaf ? SpgPage.leafTupleSize(m, pos) : SpgPage.innerTupleSize(m, pos);
            if (size < header) {
                throw malformed(r, "the " + what + " has size " + size + ", less than its " + header + "-byte header");
            }
            if (pos + size > m.length) {
                throw malformed(r, "main data of " + m.length + " bytes ends inside the " + what + " of " + size
                    + " bytes");
            }
            return bytes((int) size, what);
        }
    }

    /** spgxlogAddLeaf: a leaf tuple added, or replacing a placeholder or DEAD tuple; block 0 the leaf page, block 1 the parent. */
    public record SpgxlogAddLeaf(boolean newPage, boolean storesNulls, int offnumLeaf, int offnumHeadLeaf,
                                 int offnumParent, int nodeI, byte[] leafTuple) {
        public static SpgxlogAddLeaf parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_ADD_LEAF);
            byte[] m = in.main();
            return new SpgxlogAddLeaf(m[0] != 0, m[1] != 0, Page.u16(m, 2), Page.u16(m, 4), Page.u16(m, 6),
                Page.u16(m, 8), in.leafTuple("leaf tuple"));
        }
    }

    /** spgxlogMoveLeafs: leaf tuples moved to another page; block 0 source, 1 destination, 2 parent. */
    public record SpgxlogMoveLeafs(boolean newPage, boolean replaceDead, boolean storesNulls,
                                   int offnumParent, int nodeI, SpgxlogState stateSrc, int[] toDelete,
                                   int[] toInsert, byte[][] leafTuples) {
        public static SpgxlogMoveLeafs parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_MOVE_LEAFS);
            byte[] m = in.main();
            int nMoves = Page.u16(m, 0);
            boolean replaceDead = m[3] != 0;
            int nInsert = replaceDead ? 1 : nMoves + 1;
            int[] toDelete = in.offsets(nMoves, "deleted offsets");
            int[] toInsert = in.offsets(nInsert, "inserted offsets");
            byte[][] leafs = new byte[nInsert][];
            for (int i = 0; i < nInsert; i++) {
                leafs[i] = in.leafTuple("leaf tuple " + (i + 1) + " of " + nInsert);
            }
            return new SpgxlogMoveLeafs(m[2] != 0, replaceDead, m[4] != 0, Page.u16(m, 6), Page.u16(m, 8),
                SpgxlogState.read(m, 12), toDelete, toInsert, leafs);
        }

        /** Where the last inserted tuple went: what the redirect and the parent's downlink point at. */
        public int lastInserted() {
            return toInsert[toInsert.length - 1];
        }
    }

    /**
     * spgxlogAddNode: an inner tuple with one more node; in place (no block 1), or moved to block 1
     * leaving a redirect on block 0, the parent downlink on block {@code parentBlk} (0, 1, 2; -1 none).
     */
    public record SpgxlogAddNode(int offnum, int offnumNew, boolean newPage, int parentBlk, int offnumParent,
                                 int nodeI, SpgxlogState stateSrc, byte[] innerTuple) {
        public static SpgxlogAddNode parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_ADD_NODE);
            byte[] m = in.main();
            return new SpgxlogAddNode(Page.u16(m, 0), Page.u16(m, 2), m[4] != 0, m[5], Page.u16(m, 6),
                Page.u16(m, 8), SpgxlogState.read(m, 12), in.innerTuple("inner tuple"));
        }
    }

    /** spgxlogSplitTuple: an inner tuple split into a prefix (block 0) and a postfix (block 0 or 1). */
    public record SpgxlogSplitTuple(int offnumPrefix, int offnumPostfix, boolean newPage, boolean postfixBlkSame,
                                    byte[] prefixTuple, byte[] postfixTuple) {
        public static SpgxlogSplitTuple parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_SPLIT_TUPLE);
            byte[] m = in.main();
            byte[] prefix = in.innerTuple("prefix tuple");
            byte[] postfix = in.innerTuple("postfix tuple");
            return new SpgxlogSplitTuple(Page.u16(m, 0), Page.u16(m, 2), m[4] != 0, m[5] != 0, prefix, postfix);
        }
    }

    /**
     * spgxlogPickSplit: a leaf page's tuples split under a new inner tuple; block 0 the source
     * (absent when splitting the root), 1 the destination (if any), 2 the inner page, 3 the
     * parent (if any, and not the inner page).
     */
    public record SpgxlogPickSplit(boolean isRootSplit, int nDelete, int nInsert, boolean initSrc, boolean initDest,
                                   int offnumInner, boolean initInner, boolean storesNulls, boolean innerIsParent,
                                   int offnumParent, int nodeI, SpgxlogState stateSrc, int[] toDelete,
                                   int[] toInsert, byte[] leafPageSelect, byte[] innerTuple, byte[][] leafTuples) {
        public static SpgxlogPickSplit parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_PICK_SPLIT);
            byte[] m = in.main();
            int nDelete = Page.u16(m, 2);
            int nInsert = Page.u16(m, 4);
            int[] toDelete = in.offsets(nDelete, "deleted offsets");
            int[] toInsert = in.offsets(nInsert, "inserted offsets");
            byte[] select = in.bytes(nInsert, "page selector bytes");
            byte[] inner = in.innerTuple("inner tuple");
            byte[][] leafs = new byte[nInsert][];
            for (int i = 0; i < nInsert; i++) {
                leafs[i] = in.leafTuple("leaf tuple " + (i + 1) + " of " + nInsert);
            }
            return new SpgxlogPickSplit(m[0] != 0, nDelete, nInsert, m[6] != 0, m[7] != 0, Page.u16(m, 8), m[10] != 0,
                m[11] != 0, m[12] != 0, Page.u16(m, 14), Page.u16(m, 16), SpgxlogState.read(m, 20), toDelete, toInsert,
                select, inner, leafs);
        }
    }

    /** spgxlogVacuumLeaf: a leaf page's dead tuples turned DEAD or PLACEHOLDER, live ones moved and re-chained. */
    public record SpgxlogVacuumLeaf(SpgxlogState stateSrc, int[] toDead, int[] toPlaceholder, int[] moveSrc,
                                    int[] moveDest, int[] chainSrc, int[] chainDest) {
        public static SpgxlogVacuumLeaf parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_VACUUM_LEAF);
            byte[] m = in.main();
            int nDead = Page.u16(m, 0);
            int nPlaceholder = Page.u16(m, 2);
            int nMove = Page.u16(m, 4);
            int nChain = Page.u16(m, 6);
            return new SpgxlogVacuumLeaf(SpgxlogState.read(m, 8), in.offsets(nDead, "offsets to become DEAD"),
                in.offsets(nPlaceholder, "offsets to become PLACEHOLDER"), in.offsets(nMove, "offsets to move from"),
                in.offsets(nMove, "offsets to move to"), in.offsets(nChain, "chain offsets to update"),
                in.offsets(nChain, "chain offsets to link to"));
        }
    }

    /** spgxlogVacuumRoot: tuples deleted from a root page that is a leaf (its stateSrc is not read by redo). */
    public record SpgxlogVacuumRoot(int[] toDelete) {
        public static SpgxlogVacuumRoot parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_VACUUM_ROOT);
            return new SpgxlogVacuumRoot(in.offsets(Page.u16(in.main(), 0), "offsets to delete"));
        }
    }

    /**
     * spgxlogVacuumRedirect: redirects older than every snapshot become placeholders, and the
     * placeholders from {@code firstPlaceholder} (0: none) to the end of the page are removed.
     * (newestRedirectXid only serves hot standby conflicts: no page reads it.)
     */
    public record SpgxlogVacuumRedirect(int firstPlaceholder, int[] itemToPlaceholder) {
        public static SpgxlogVacuumRedirect parse(WalRecord r) {
            Reader in = new Reader(r, SIZE_OF_SPGXLOG_VACUUM_REDIRECT);
            byte[] m = in.main();
            return new SpgxlogVacuumRedirect(Page.u16(m, 2),
                in.offsets(Page.u16(m, 0), "offsets of redirects to become placeholders"));
        }
    }

    /**
     * The ingest check of an SPGist record: a type PG15 writes, main data that parses whole, the
     * blocks spg_redo reads, and BKPBLOCK_WILL_INIT on exactly the blocks it initializes
     * (XLogReadBufferForRedoExtended PANICs on either mismatch). SP-GiST records carry no block data.
     *
     * @throws RedoException naming the record and its LSN
     */
    public static void check(WalRecord r) {
        switch (r.rmgrInfo()) {
            case XLOG_SPGIST_ADD_LEAF -> {
                SpgxlogAddLeaf x = SpgxlogAddLeaf.parse(r);
                needBlock(r, 0);
                initMatches(r, 0, x.newPage(), "newPage");
                if (x.offnumParent() != 0) {
                    needBlock(r, 1);
                }
            }
            case XLOG_SPGIST_MOVE_LEAFS -> {
                SpgxlogMoveLeafs x = SpgxlogMoveLeafs.parse(r);
                needBlock(r, 0);
                needBlock(r, 1);
                needBlock(r, 2);
                initMatches(r, 1, x.newPage(), "newPage");
            }
            case XLOG_SPGIST_ADD_NODE -> {
                SpgxlogAddNode x = SpgxlogAddNode.parse(r);
                needBlock(r, 0);
                if (r.block(1) != null) {
                    initMatches(r, 1, x.newPage(), "newPage");
                    if (x.parentBlk() == 2) {
                        needBlock(r, 2);
                    }
                }
            }
            case XLOG_SPGIST_SPLIT_TUPLE -> {
                SpgxlogSplitTuple x = SpgxlogSplitTuple.parse(r);
                needBlock(r, 0);
                if (!x.postfixBlkSame()) {
                    needBlock(r, 1);
                    initMatches(r, 1, x.newPage(), "newPage");
                }
            }
            case XLOG_SPGIST_PICKSPLIT -> {
                SpgxlogPickSplit x = SpgxlogPickSplit.parse(r);
                needBlock(r, 2);
                initMatches(r, 2, x.initInner(), "initInner");
                if (!x.isRootSplit()) {
                    needBlock(r, 0);
                    initMatches(r, 0, x.initSrc(), "initSrc");
                }
                if (r.block(1) != null) {
                    initMatches(r, 1, x.initDest(), "initDest");
                }
            }
            case XLOG_SPGIST_VACUUM_LEAF -> {
                SpgxlogVacuumLeaf.parse(r);
                needBlock(r, 0);
            }
            case XLOG_SPGIST_VACUUM_ROOT -> {
                SpgxlogVacuumRoot.parse(r);
                needBlock(r, 0);
            }
            case XLOG_SPGIST_VACUUM_REDIRECT -> {
                SpgxlogVacuumRedirect.parse(r);
                needBlock(r, 0);
            }
            default -> throw unknown(r);
        }
    }

    private static void needBlock(WalRecord r, int id) {
        if (r.block(id) == null) {
            throw malformed(r, "no block " + id);
        }
    }

    private static void initMatches(WalRecord r, int id, boolean init, String flag) {
        boolean willInit = (r.block(id).forkFlags() & BlockRef.BKPBLOCK_WILL_INIT) != 0;
        if (init != willInit) {
            throw malformed(r, init ? flag + " is set but block " + id + " lacks BKPBLOCK_WILL_INIT"
                : "block " + id + " has BKPBLOCK_WILL_INIT but " + flag + " is not set");
        }
    }
}
