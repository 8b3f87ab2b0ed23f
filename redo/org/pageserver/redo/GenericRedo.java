package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;

/** Redo of RM_GENERIC_ID records (generic_xlog.c, PG15), one block at a time. */
final class GenericRedo {
    private GenericRedo() {
    }

    /**
     * Mirrors generic_redo for one block: its delta applied (applyPageRedo), then the hole
     * between pd_lower and pd_upper zeroed, as GenericXLogFinish left it on the primary (the
     * delta says nothing of it).
     *
     * @return true: the page takes the record's LSN
     */
    static boolean redo(WalRecord r, int blockId, byte[] page) {
        if (blockId >= GenericXlog.MAX_GENERIC_XLOG_PAGES) {
            throw GenericXlog.malformed(r, "block id " + blockId + ", at most " + (GenericXlog.MAX_GENERIC_XLOG_PAGES - 1));
        }
        byte[] data = r.block(blockId).data();
        for (GenericXlog.Fragment f : GenericXlog.delta(r, blockId)) {
            System.arraycopy(data, f.dataOffset(), page, f.offset(), f.length());
        }
        int lower = Page.lower(page);
        int upper = Page.upper(page);
        if (lower > upper || upper > Page.BLCKSZ) {
            throw new RedoException("Generic redo: page with pd_lower " + lower + " and pd_upper " + upper
                + " after the delta of block " + blockId, r.startLsn());
        }
        java.util.Arrays.fill(page, lower, upper, (byte) 0);
        return true;
    }
}
