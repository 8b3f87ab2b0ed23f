package org.pageserver.storage;

import org.pageserver.redo.PageChange;
import java.util.List;
import org.pageserver.protocol.Lsn;

/**
 * What one block needs to be rebuilt as of an LSN: the newest image at or before it (null when
 * the chain starts with a record that initializes the page or restores a full-page image) and
 * the records after that image, oldest first, up to the LSN.
 *
 * <p>When read with a lower bound ({@link TenantStore#pageHistorySince}) and no image or chain
 * start came after it, {@code baseImage} is null and {@code baseLsn} is that bound: the records
 * apply on top of the page as of {@code baseLsn}.
 */
public record PageHistory(byte[] baseImage, Lsn baseLsn, List<StoredRecord> records) {

    public boolean isEmpty() {
        return baseImage == null && records.isEmpty();
    }

    /** True when the records apply on top of a page the caller already has as of {@code baseLsn}. */
    public boolean isIncremental() {
        return baseImage == null && baseLsn.isValid() && (records.isEmpty() || !records.get(0).startsChain());
    }

    /**
     * One WAL record as stored under a block it touches.
     *
     * @param change      what the record is to the block: how the block is rebuilt from it
     * @param startsChain the record initializes the block or carries an image redo applies, so
     *                    nothing older is needed
     */
    public record StoredRecord(Lsn startLsn, Lsn endLsn, PageChange change, boolean startsChain, byte[] raw) {
    }
}
