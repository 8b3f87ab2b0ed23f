package org.pageserver.storage;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Optional;
import org.pageserver.protocol.Lsn;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/**
 * A write that failed because the file system holding the store is full (ENOSPC; PostgreSQL
 * reports it as {@code disk_full}, 53100): not a fault of the data, and over once space returns.
 *
 * <p>What RocksDB does then: the failed write is not applied (neither its log record nor its
 * memtable entries count), and the database stops taking writes (a "background error") while
 * reads go on. Its own recovery, through the SstFileManager every database has, looks at the
 * free space every 5 s and, once a write buffer's worth is free (32 MB, see TenantStore),
 * flushes the memtables and takes writes again. So nothing stored is damaged, and a writer
 * only has to wait and write again what failed.
 */
public final class DiskFull {
    /** strerror(ENOSPC) on Linux: the JDK's IOExceptions carry it as their message or reason. */
    static final String ENOSPC = "No space left on device";

    private DiskFull() {
    }

    /**
     * The message of the failure when {@code failure} or one of its causes is a full disk:
     * RocksDB's status IOError with subcode NoSpace (what RocksDB makes of ENOSPC), or a JDK
     * I/O exception whose reason is ENOSPC's text. Empty for any other failure.
     */
    public static Optional<String> detail(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RocksDBException r) {
                Status s = r.getStatus();
                if (s != null && s.getCode() == Status.Code.IOError && s.getSubCode() == Status.SubCode.NoSpace) {
                    return Optional.of(r.getMessage());
                }
            } else if (t instanceof FileSystemException f) {
                if (ENOSPC.equals(f.getReason())) {
                    return Optional.of(f.getMessage());
                }
            } else if (t instanceof IOException && ENOSPC.equals(t.getMessage())) {
                return Optional.of(t.getMessage());
            }
        }
        return Optional.empty();
    }

    /**
     * Whether the store takes writes again: writes its durable LSN as it is, synced (nothing
     * else writes it while ingest is paused, so it changes nothing). Fails as long as RocksDB
     * has not recovered from the full disk, without touching the disk then; cheaper than
     * connecting to the primary to find out.
     *
     * @throws StorageException as the store's writes do
     */
    public static void probe(TenantStore store) {
        Lsn durable = store.durableLsn();
        Lsn lastRecord = store.lastRecordLsn();
        try (StoreBatch b = store.newBatch()) {
            b.setDurableLsn(durable, lastRecord);
            b.commit();
        }
    }
}
