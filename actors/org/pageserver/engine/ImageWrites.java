package org.pageserver.engine;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.storage.DiskFull;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/**
 * Stores a page rebuilt by a long replay as a new image (pageserver.materialize-after), so that
 * the next read of a hot page replays only what came after it. The page as of the last record
 * replayed is the page as of any LSN up to the block's next record: it is stored at that
 * record's end. Writes run on {@code executor}; a failed write only costs the next read a
 * longer replay, so it is logged and forgotten.
 */
public final class ImageWrites {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ImageWrites.class);

    private final TenantStore store;
    private final int materializeAfter;
    private final Executor executor;

    public ImageWrites(TenantStore store, int materializeAfter, Executor executor) {
        this.store = store;
        this.materializeAfter = materializeAfter;
        this.executor = executor;
    }

    /**
     * Stores {@code page} as the image of {@code key} at {@code lastRecordEnd} if it took at
     * least materialize-after records to rebuild; true when a write was started.
     */
    public boolean offer(BufferTag key, byte[] page, int replayed, Lsn lastRecordEnd) {
        if (replayed < materializeAfter || !lastRecordEnd.isValid()) {
            return false;
        }
        CompletableFuture.runAsync(() -> {
            try (StoreBatch b = store.newBatch()) {
                b.putImage(key.rel(), key.blkno(), lastRecordEnd, page);
                b.commit();
            }
        }, executor).exceptionally(e -> {
            if (DiskFull.detail(e).isPresent()) {
                // the tenant's ingest says so, once for the whole episode: not once per page read
                LOG.debug("no materialized image of {} block {}: disk full", key.rel(), key.blkno());
            } else {
                LOG.warn("cannot store a materialized image of {} block {}: {}", key.rel(), key.blkno(), e.toString());
            }
            return null;
        });
        return true;
    }
}
