package org.pageserver.redo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * What a record does to relation files, besides changing pages: created (XLOG_SMGR_CREATE),
 * truncated (XLOG_SMGR_TRUNCATE, with the visibility map and free space map shrunk as
 * visibilitymap_prepare_truncate and FreeSpaceMapPrepareTruncateRel do), or dropped at commit
 * or abort (the relfilenodes of xl_xact_commit / xl_xact_abort and their prepared forms, as
 * {@link XactRecord} parses them). Layouts from PG15's catalog/storage_xlog.h:
 *
 * <pre>
 * xl_smgr_create   rnode (spc u32, db u32, rel u32), forkNum i32
 * xl_smgr_truncate blkno u32, rnode (12), flags i32 (SMGR_TRUNCATE_HEAP 1, _VM 2, _FSM 4)
 * xl_xact_prepare: the twophase state file (not parsed: its dropped rels come with COMMIT/ABORT PREPARED)
 * </pre>
 */
public record StorageEffects(List<RelTag> created, List<Truncation> truncations, List<RelTag> dropped,
                             List<RelMapUpdate> relMaps) {

    /**
     * XLOG_RELMAP_UPDATE (utils/relmapper.h: xl_relmap_update dbid u32, tsid u32, nbytes i32,
     * data): the whole new pg_filenode.map of a database (in its directory of its default
     * tablespace), or of the shared catalogs.
     */
    public record RelMapUpdate(String path, byte[] contents) {
    }

    public StorageEffects(List<RelTag> created, List<Truncation> truncations, List<RelTag> dropped) {
        this(created, truncations, dropped, List.of());
    }

    /** A fork cut to {@code nblocks} blocks (the VM: as visibilitymap_prepare_truncate computes). */
    public record Truncation(RelTag rel, int nblocks) {
    }

    /** xl_smgr_truncate: blkno u32, rnode (spc, db, rel), flags i32. */
    record XlSmgrTruncate(int blkno, RelTag rnode, int flags) {
        static final int SIZE = 20;

        static XlSmgrTruncate parse(WalRecord r) {
            byte[] m = RecordData.main(r, "TRUNCATE", SIZE);
            ByteBuffer b = le(m);
            return new XlSmgrTruncate(b.getInt(), new RelTag(b.getInt(), b.getInt(), b.getInt(), ForkNumber.MAIN),
                b.getInt());
        }
    }

    static final int XLOG_SMGR_CREATE = 0x10;
    static final int XLOG_SMGR_TRUNCATE = 0x20;
    static final int SMGR_TRUNCATE_HEAP = 0x0001;
    static final int SMGR_TRUNCATE_VM = 0x0002;
    static final int SMGR_TRUNCATE_FSM = 0x0004;

    /**
     * The free space map's shape (freespace.c / fsm_internals.h, BLCKSZ 8192): NodesPerPage =
     * BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - offsetof(FSMPageData, fp_nodes) = 8164, of which
     * BLCKSZ / 2 - 1 = 4095 inner nodes, so 4069 leaf slots per page; three levels.
     */
    static final int FSM_SLOTS_PER_PAGE = 8164 - 4095;
    static final int FSM_TREE_DEPTH = 3;


    static final StorageEffects NONE = new StorageEffects(List.of(), List.of(), List.of());

    public boolean isEmpty() {
        return created.isEmpty() && truncations.isEmpty() && dropped.isEmpty() && relMaps.isEmpty();
    }

    static final int XLOG_RELMAP_UPDATE = 0x00;
    static final int RELMAPPER_FILESIZE = 512;

    public static StorageEffects of(WalRecord r) {
        try {
            if (r.rmid() == RmgrId.RM_SMGR_ID) {
                return smgr(r);
            }
            if (r.rmid() == RmgrId.RM_XACT_ID) {
                return xact(r);
            }
            if (r.rmid() == RmgrId.RM_RELMAP_ID && r.rmgrInfo() == XLOG_RELMAP_UPDATE) {
                ByteBuffer b = le(r.mainData());
                int db = b.getInt();
                int spc = b.getInt();
                int nbytes = b.getInt();
                if (nbytes != RELMAPPER_FILESIZE || b.remaining() < nbytes) {
                    throw new IllegalArgumentException("relation map update of " + nbytes + " bytes");
                }
                byte[] map = new byte[nbytes];
                b.get(map);
                // write_relmap_file: the database's directory in its default tablespace
                String path = DatabaseRecord.databasePath(spc, db) + "/pg_filenode.map";
                return new StorageEffects(List.of(), List.of(), List.of(), List.of(new RelMapUpdate(path, map)));
            }
            return NONE;
        } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
            throw new RedoException(RmgrId.name(r.rmid()) + " record is malformed: " + e, r.startLsn());
        }
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static StorageEffects smgr(WalRecord r) {
        ByteBuffer b = le(r.mainData());
        switch (r.rmgrInfo()) {
            case XLOG_SMGR_CREATE -> {
                RelTag rel = new RelTag(b.getInt(), b.getInt(), b.getInt(), ForkNumber.of(b.getInt()));
                return new StorageEffects(List.of(rel), List.of(), List.of());
            }
            case XLOG_SMGR_TRUNCATE -> {
                XlSmgrTruncate x = XlSmgrTruncate.parse(r);
                int blkno = x.blkno();
                RelTag main = x.rnode();
                int flags = x.flags();
                List<Truncation> t = new ArrayList<>(2);
                if ((flags & SMGR_TRUNCATE_HEAP) != 0) {
                    t.add(new Truncation(main, blkno));
                }
                if ((flags & SMGR_TRUNCATE_FSM) != 0) {
                    t.add(new Truncation(main.withFork(ForkNumber.FSM), fsmBlocksAfterTruncate(blkno)));
                }
                if ((flags & SMGR_TRUNCATE_VM) != 0) {
                    t.add(new Truncation(main.withFork(ForkNumber.VISIBILITYMAP), vmBlocksAfterTruncate(blkno)));
                }
                return new StorageEffects(List.of(), t, List.of());
            }
            default -> {
                return NONE;
            }
        }
    }

    /** visibilitymap_prepare_truncate's new VM size for a heap of {@code heapBlocks} blocks. */
    public static int vmBlocksAfterTruncate(int heapBlocks) {
        int block = VisibilityMap.mapBlock(heapBlocks);
        return partialVmPage(heapBlocks) ? block + 1 : block;
    }

    /**
     * Mirrors FreeSpaceMapPrepareTruncateRel (freespace.c, PG15): the FSM keeps the pages up to
     * the leaf page of the first heap block removed, that leaf page too unless the block is its
     * first slot. The size is only ever lowered (a smaller FSM is left alone, as smgr_redo
     * does). The leaf's now unused slots are not WAL-logged, and nor is any FSM content.
     */
    public static int fsmBlocksAfterTruncate(int heapBlocks) {
        long blk = Integer.toUnsignedLong(heapBlocks);
        long logPage = blk / FSM_SLOTS_PER_PAGE;
        long slot = blk % FSM_SLOTS_PER_PAGE;
        long physical = fsmLogicalToPhysical(logPage);
        return (int) (slot > 0 ? physical + 1 : physical);
    }

    /** Mirrors fsm_logical_to_physical for a bottom-level (leaf) page: its block in the FSM fork. */
    static long fsmLogicalToPhysical(long leafLogicalPage) {
        long leafno = leafLogicalPage;
        long pages = 0;
        for (int l = 0; l < FSM_TREE_DEPTH; l++) {
            pages += leafno + 1;
            leafno /= FSM_SLOTS_PER_PAGE;
        }
        return pages - 1;
    }

    /** True when the truncation leaves the last VM page with only some of its bits. */
    static boolean partialVmPage(int heapBlocks) {
        return Integer.toUnsignedLong(heapBlocks) % VisibilityMap.HEAPBLOCKS_PER_PAGE != 0;
    }

    private static StorageEffects xact(WalRecord r) {
        XactRecord x = XactRecord.parse(r);
        if (x == null || x.relfilenodes().isEmpty()) {
            return NONE;
        }
        List<RelTag> dropped = new ArrayList<>(x.relfilenodes().size() * 4);
        for (RelTag rel : x.relfilenodes()) {
            for (ForkNumber f : ForkNumber.values()) {
                dropped.add(rel.withFork(f));
            }
        }
        return new StorageEffects(List.of(), List.of(), dropped);
    }
}
