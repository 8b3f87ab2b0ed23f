package org.pageserver.engine;

import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.PageChange;
import org.pageserver.redo.SlruRedo;
import org.pageserver.redo.WalRedo;
import org.pageserver.storage.PageHistory;

/**
 * Rebuilds one page: its base image (or zeros) and then each record after it, in LSN order. What
 * GetPage@LSN serves, and what a base backup writes (org.pageserver.backup).
 */
public final class PageRebuild {
    static final int BLCKSZ = 8192;

    private PageRebuild() {
    }

    /**
     * @param tag         the block being rebuilt (implicit VM changes and SLRU pages need it)
     * @param hintsLogged the primary WAL-logs hint bits (see TenantMeta)
     */
    public static byte[] rebuild(PageHistory history, BufferTag tag, boolean hintsLogged) {
        int blkno = tag.blkno();
        byte[] page = history.baseImage() != null ? history.baseImage().clone() : new byte[BLCKSZ];
        for (PageHistory.StoredRecord s : history.records()) {
            // the CRC was checked when the record was received; RocksDB checksums what it stores since
            WalRecord r = WalRecord.decode(s.startLsn(), s.endLsn(), s.raw(), false);
            if (s.change() instanceof PageChange.RegisteredBlock b) {
                WalRedo.redoBlock(r, b.blockId(), page, hintsLogged);
            } else if (s.change() instanceof PageChange.ImplicitVisibilityMap) {
                WalRedo.redoImplicit(r, blkno, page);
            } else {
                SlruKind kind = SlruKind.fromRel(tag.rel());
                if (kind == null) {
                    throw new IllegalStateException("SLRU change stored under relation " + tag.rel());
                }
                SlruRedo.redo(r, kind, blkno, page);
            }
        }
        return page;
    }
}
