package org.pageserver.engine;

import java.util.List;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Records and raw WAL up to a record boundary, taken by {@link WalIngest} and stored atomically
 * by {@link BatchWriter}: a value, shared by neither half's state.
 *
 * @param durableLsn  the record boundary the batch ends at: the new durable LSN once written
 * @param receivedLsn everything received when the batch was taken; readers may wait up to here
 *                    once it is written
 */
public record WalBatch(List<WalRecord> records, Lsn walStart, byte[] wal, Lsn durableLsn, Lsn receivedLsn) {
}
