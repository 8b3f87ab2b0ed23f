package org.pageserver.redo;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Page redo, one block at a time: the rules of XLogReadBufferForRedo (xlogutils.c) around the
 * resource managers' redo routines.
 *
 * <p>PostgreSQL's redo functions change all blocks of a record in one call; here a call rebuilds
 * ONE block, so each record method does only the part of PostgreSQL's routine that touches the
 * block asked for. Some heap records also clear visibility map bits without registering the VM
 * page as a block (visibilitymap_clear in heap_xlog_insert and friends), and a truncation
 * clears the bits past its end in the last VM page it keeps: {@link #implicitBlocks} names those
 * pages, so that the record is stored under them too ({@link PageChange#IMPLICIT_VISIBILITY_MAP})
 * and {@link #redoImplicit} rebuilds them.
 */
public final class WalRedo {
    private WalRedo() {
    }

    /** True if this record's effect on its blocks can be redone by this library. */
    public static boolean canRedo(WalRecord record) {
        return switch (record.rmid()) {
            case RmgrId.RM_XLOG_ID, RmgrId.RM_HEAP_ID, RmgrId.RM_HEAP2_ID, RmgrId.RM_SEQ_ID -> true;
            case RmgrId.RM_HASH_ID, RmgrId.RM_GIN_ID, RmgrId.RM_GIST_ID, RmgrId.RM_SPGIST_ID, RmgrId.RM_BRIN_ID,
                RmgrId.RM_GENERIC_ID -> true;
            case RmgrId.RM_BTREE_ID -> BtreeRedo.canRedo(record)
                || record.blocks().stream().allMatch(b -> b.hasImage() && b.applyImage());
            default -> record.blocks().stream().allMatch(b -> b.hasImage() && b.applyImage());
        };
    }

    public static void redoBlock(WalRecord record, int blockId, byte[] page) {
        redoBlock(record, blockId, page, false);
    }

    /**
     * Applies {@code record} to its block {@code blockId}; {@code page} (8192 bytes) is changed in
     * place. An image with BKPIMAGE_APPLY is restored and nothing else is done to that block;
     * otherwise, unless the block is initialized by the record, a page whose LSN is at or past
     * the record's end is left alone (fuzzy base images); otherwise the change is applied and
     * pd_lsn set to the record's end.
     *
     * @param hintsLogged wal_log_hints or data checksums on the primary (pg_control): then
     *                    PostgreSQL also stamps pages whose only change is a hint
     * @throws RedoException for a record type it cannot redo or malformed record data
     */
    public static void redoBlock(WalRecord record, int blockId, byte[] page, boolean hintsLogged) {
        if (page.length != Page.BLCKSZ) {
            throw new IllegalArgumentException("a page is " + Page.BLCKSZ + " bytes");
        }
        BlockRef b = record.block(blockId);
        if (b == null) {
            throw new RedoException("record has no block " + blockId, record.startLsn());
        }
        long end = record.endLsn().value();
        if (b.hasImage() && b.applyImage()) {
            b.restoreImageInto(page, record.startLsn());
            if (!Page.isNew(page)) {
                Page.setLsn(page, end);
            }
            if (record.rmid() == RmgrId.RM_GIST_ID) { // gistRedoClearFollowRight changes a restored child too
                GistRedo.redoRestored(record, blockId, page);
            }
            return;
        }
        if (!b.willInit() && Long.compareUnsigned(Page.lsn(page), end) >= 0) {
            return;
        }
        if (b.willInit()) {
            java.util.Arrays.fill(page, (byte) 0);
        }
        boolean setLsn;
        try {
            setLsn = switch (record.rmid()) {
                case RmgrId.RM_HEAP_ID -> {
                    HeapRedo.redo(record, blockId, page);
                    yield true;
                }
                case RmgrId.RM_HEAP2_ID -> Heap2Redo.redo(record, blockId, page, hintsLogged);
                case RmgrId.RM_BTREE_ID -> {
                    BtreeRedo.redo(record, blockId, page);
                    yield true;
                }
                case RmgrId.RM_SEQ_ID -> {
                    SeqRedo.redo(record, page);
                    yield true;
                }
                case RmgrId.RM_HASH_ID -> HashRedo.redo(record, blockId, page);
                case RmgrId.RM_GIN_ID -> GinRedo.redo(record, blockId, page);
                case RmgrId.RM_GIST_ID -> GistRedo.redo(record, blockId, page);
                case RmgrId.RM_SPGIST_ID -> SpgRedo.redo(record, blockId, page);
                case RmgrId.RM_BRIN_ID -> BrinRedo.redo(record, blockId, page);
                case RmgrId.RM_GENERIC_ID -> GenericRedo.redo(record, blockId, page);
                // (XLOG's page records are all full-page images, restored above)
                default -> throw new RedoException(RmgrId.name(record.rmid()) + " record (xl_info 0x"
                    + Integer.toHexString(record.info()) + ") has no page redo: PostgreSQL's changes no page",
                    record.startLsn());
            };
        } catch (IllegalStateException | IndexOutOfBoundsException e) {
            throw new RedoException(RmgrId.name(record.rmid()) + " redo: " + e.getMessage(), record.startLsn());
        }
        if (setLsn) {
            Page.setLsn(page, end);
        }
    }

    /** A page a record changes without registering it as a block. */
    public record ImplicitBlock(RelTag rel, int blkno) {
    }

    /**
     * The visibility map pages a heap record clears bits in without registering them
     * (XLH_*_ALL_VISIBLE_CLEARED, XLH_LOCK_ALL_FROZEN_CLEARED).
     */
    public static List<ImplicitBlock> implicitBlocks(WalRecord r) {
        List<ImplicitBlock> out = new ArrayList<>(2);
        StorageEffects.XlSmgrTruncate t = vmTruncation(r);
        if (t != null) {
            out.add(new ImplicitBlock(t.rnode().withFork(ForkNumber.VISIBILITYMAP), VisibilityMap.mapBlock(t.blkno())));
            return out;
        }
        for (int[] c : vmClears(r)) {
            BlockRef b = r.block(c[0]);
            out.add(new ImplicitBlock(b.rel().withFork(ForkNumber.VISIBILITYMAP), VisibilityMap.mapBlock(b.blkno())));
        }
        return out;
    }

    /**
     * Rebuilds an implicit page change: the VM bits of the heap blocks the record touched, on
     * the VM page {@code vmBlkno}. The VM page's LSN is left alone, as visibilitymap_clear does.
     */
    public static void redoImplicit(WalRecord r, int vmBlkno, byte[] page) {
        StorageEffects.XlSmgrTruncate t = vmTruncation(r);
        if (t != null) {
            // visibilitymap_prepare_truncate: the bits of the heap blocks cut off are cleared
            if (!Page.isNew(page) && VisibilityMap.mapBlock(t.blkno()) == vmBlkno) {
                VisibilityMap.truncate(page, t.blkno());
            }
            return;
        }
        for (int[] c : vmClears(r)) {
            BlockRef b = r.block(c[0]);
            if (VisibilityMap.mapBlock(b.blkno()) != vmBlkno) {
                continue;
            }
            if (Page.isNew(page)) {
                Page.init(page, 0);
            }
            VisibilityMap.clear(page, b.blkno(), c[1]);
        }
    }

    /**
     * An XLOG_SMGR_TRUNCATE of the VM whose last VM page keeps only some bits; null for any
     * other record.
     */
    static StorageEffects.XlSmgrTruncate vmTruncation(WalRecord r) {
        if (r.rmid() != RmgrId.RM_SMGR_ID || r.rmgrInfo() != StorageEffects.XLOG_SMGR_TRUNCATE) {
            return null;
        }
        StorageEffects.XlSmgrTruncate t = StorageEffects.XlSmgrTruncate.parse(r);
        if ((t.flags() & StorageEffects.SMGR_TRUNCATE_VM) == 0 || !StorageEffects.partialVmPage(t.blkno())) {
            return null;
        }
        return t;
    }

    /** (block id, bits) pairs of the VM clears of a heap record. */
    static List<int[]> vmClears(WalRecord r) {
        List<int[]> out = new ArrayList<>(2);
        int all = VisibilityMap.VISIBILITYMAP_VALID_BITS;
        int frozen = VisibilityMap.VISIBILITYMAP_ALL_FROZEN;
        if (r.rmid() == RmgrId.RM_HEAP_ID) {
            switch (HeapXlog.opcode(r)) {
                case HeapXlog.XLOG_HEAP_INSERT -> {
                    if ((HeapXlog.XlHeapInsert.parse(r).flags() & HeapXlog.XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
                        out.add(new int[] {0, all});
                    }
                }
                case HeapXlog.XLOG_HEAP_DELETE -> {
                    if ((HeapXlog.XlHeapDelete.parse(r).flags() & HeapXlog.XLH_DELETE_ALL_VISIBLE_CLEARED) != 0) {
                        out.add(new int[] {0, all});
                    }
                }
                case HeapXlog.XLOG_HEAP_UPDATE, HeapXlog.XLOG_HEAP_HOT_UPDATE -> {
                    int flags = HeapXlog.XlHeapUpdate.parse(r).flags();
                    boolean oldCleared = (flags & HeapXlog.XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) != 0;
                    int oldBlock = r.block(1) != null ? 1 : 0;
                    if (oldCleared) {
                        out.add(new int[] {oldBlock, all});
                    }
                    // on the same page the old tuple's clear already did it
                    if ((flags & HeapXlog.XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) != 0 && (oldBlock != 0 || !oldCleared)) {
                        out.add(new int[] {0, all});
                    }
                }
                case HeapXlog.XLOG_HEAP_LOCK -> {
                    if ((HeapXlog.XlHeapLock.parse(r).flags() & HeapXlog.XLH_LOCK_ALL_FROZEN_CLEARED) != 0) {
                        out.add(new int[] {0, frozen});
                    }
                }
                default -> {
                }
            }
        } else if (r.rmid() == RmgrId.RM_HEAP2_ID) {
            int op = HeapXlog.opcode(r);
            if (op == HeapXlog.XLOG_HEAP2_MULTI_INSERT
                && (HeapXlog.XlHeapMultiInsert.parse(r).flags() & HeapXlog.XLH_INSERT_ALL_VISIBLE_CLEARED) != 0) {
                out.add(new int[] {0, all});
            } else if (op == HeapXlog.XLOG_HEAP2_LOCK_UPDATED
                && (HeapXlog.XlHeapLockUpdated.parse(r).flags() & HeapXlog.XLH_LOCK_ALL_FROZEN_CLEARED) != 0) {
                out.add(new int[] {0, frozen});
            }
        }
        // a block without a registered reference cannot be named
        out.removeIf(c -> r.block(c[0]) == null);
        return out;
    }

    static void need(WalRecord r, byte[] data, int n) {
        if (data == null || data.length < n) {
            throw new RedoException(RmgrId.name(r.rmid()) + " record data too short: need " + n + " bytes, have "
                + (data == null ? 0 : data.length), r.startLsn());
        }
    }
}
