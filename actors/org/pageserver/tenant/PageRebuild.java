package org.pageserver.tenant;

import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.WalRedo;
import org.pageserver.storage.PageHistory;

/** Rebuilds one page: its base image (or zeros) and then each record after it, in LSN order. */
final class PageRebuild {
    static final int BLCKSZ = 8192;

    private PageRebuild() {
    }

    /**
     * @param blkno       the block being rebuilt (implicit VM changes need it)
     * @param hintsLogged the primary WAL-logs hint bits (see TenantMeta)
     */
    static byte[] rebuild(PageHistory history, int blkno, boolean hintsLogged) {
        byte[] page = history.baseImage() != null ? history.baseImage().clone() : new byte[BLCKSZ];
        for (PageHistory.StoredRecord s : history.records()) {
            WalRecord r = WalRecord.decode(s.startLsn(), s.endLsn(), s.raw());
            if (s.blockId() == WalRedo.IMPLICIT_VM_BLOCK_ID) {
                WalRedo.redoImplicit(r, blkno, page);
            } else {
                WalRedo.redoBlock(r, s.blockId(), page, hintsLogged);
            }
        }
        return page;
    }
}
