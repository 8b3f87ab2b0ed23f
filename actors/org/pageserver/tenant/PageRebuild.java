package org.pageserver.tenant;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.storage.PageHistory;

/** Rebuilds one page: its base image (or zeros) and then each record after it, in LSN order. */
final class PageRebuild {
    static final int BLCKSZ = 8192;

    private PageRebuild() {
    }

    static byte[] rebuild(PageHistory history) {
        byte[] page = history.baseImage() != null ? history.baseImage().clone() : new byte[BLCKSZ];
        for (PageHistory.StoredRecord s : history.records()) {
            WalRecord r = WalRecord.decode(s.startLsn(), s.endLsn(), s.raw());
            apply(r, s.blockId(), page);
        }
        return page;
    }

    /** Full-page images only, until the per-rmgr redo routines are in. */
    static void apply(WalRecord r, int blockId, byte[] page) {
        BlockRef b = r.block(blockId);
        if (b == null) {
            throw new IllegalStateException("record at " + r.startLsn() + " has no block " + blockId);
        }
        if (b.hasImage() && b.applyImage()) {
            byte[] img = b.restoreImage(r.startLsn());
            System.arraycopy(img, 0, page, 0, BLCKSZ);
            return;
        }
        throw new IllegalStateException("cannot redo " + RmgrId.name(r.rmid()) + " record (info 0x"
            + Integer.toHexString(r.info()) + ") at " + r.startLsn() + " yet: only full-page images are applied");
    }
}
