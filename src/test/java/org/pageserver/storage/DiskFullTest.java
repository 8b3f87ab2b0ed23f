package org.pageserver.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

class DiskFullTest {
    static final String ROCKSDB_ENOSPC = "While appending to file: /data/tenants/1/000008.log: No space left on device";

    @TempDir
    Path dir;

    static RocksDBException rocksDb(Status.Code code, Status.SubCode sub, String message) {
        return new RocksDBException(message, new Status(code, sub, message));
    }

    @Test
    void rocksDbsNoSpaceStatusIsAFullDiskThroughTheWrappersOfAWrite() {
        RocksDBException e = rocksDb(Status.Code.IOError, Status.SubCode.NoSpace, ROCKSDB_ENOSPC);
        // as a failed write reaches the WAL-stream actor: the future's, then the store's exception
        Throwable wrapped = new CompletionException(new StorageException("write to /data/tenants/1 failed: "
            + e.getMessage(), e));
        assertEquals(Optional.of(ROCKSDB_ENOSPC), DiskFull.detail(wrapped));
    }

    @Test
    void otherRocksDbErrorsAreNotAFullDisk() {
        // the subcode says it, not the words: an I/O error with another cause is not a full disk
        assertEquals(Optional.empty(), DiskFull.detail(new StorageException("write failed",
            rocksDb(Status.Code.IOError, Status.SubCode.None, "While appending to file: x.log: Input/output error"))));
        assertEquals(Optional.empty(), DiskFull.detail(new StorageException("read failed",
            rocksDb(Status.Code.Corruption, Status.SubCode.None, "block checksum mismatch"))));
        assertEquals(Optional.empty(), DiskFull.detail(new RocksDBException("no status")));
        assertEquals(Optional.empty(), DiskFull.detail(new StorageException("tenant store /x is closed")));
    }

    @Test
    void theJdksEnospcIsAFullDiskAndOtherIoErrorsAreNot() {
        FileSystemException fs = new FileSystemException("/data/tenants/1/meta", null, "No space left on device");
        assertEquals(Optional.of(fs.getMessage()), DiskFull.detail(new StorageException("cannot write", fs)));
        // FileChannel.write and FileOutputStream.write: the bare strerror
        assertEquals(Optional.of("No space left on device"), DiskFull.detail(new IOException("No space left on device")));
        assertEquals(Optional.empty(), DiskFull.detail(new FileSystemException("/x", null, "Disk quota exceeded")));
        assertEquals(Optional.empty(), DiskFull.detail(new IOException("Input/output error")));
    }

    @Test
    void theProbeRewritesTheDurableLsnAsItIs() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (TenantStore.Batch b = s.newBatch()) {
                b.setDurableLsn(new Lsn(0x3000), new Lsn(0x2F00));
                b.commit();
            }
            DiskFull.probe(s);
            assertEquals(new Lsn(0x3000), s.durableLsn());
            assertEquals(new Lsn(0x2F00), s.lastRecordLsn());
        }
    }

    /**
     * What the pause relies on, on a real full file system (a tmpfs; root only): RocksDB's write
     * fails with NoSpace and is not applied, reads go on, the probe fails while RocksDB has not
     * recovered, and once a filler file is removed RocksDB recovers by itself and writes go on,
     * with everything committed before the failure there after a reopen, and nothing of the
     * failed write.
     */
    @Test
    void aStoreOnAFullFileSystemRefusesWritesKeepsWhatItHasAndRecoversWhenSpaceReturns() throws Exception {
        assumeTrue(Tmpfs.canMount(), "mounting a tmpfs needs root");
        Random random = new Random(15);
        byte[] chunk = new byte[256 << 10];
        Path storeDir;
        Lsn committed = new Lsn(0x1000000);
        ByteArrayOutputStream stored = new ByteArrayOutputStream();
        // room for RocksDB's recovery once the filler is gone: it waits for a write buffer's
        // worth of free space (32 MB)
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("mnt"), 96)) {
            storeDir = fs.dir().resolve("tenant");
            try (TenantStore store = TenantStore.open(storeDir, true)) {
                Path filler = fs.dir().resolve("filler");
                fs.fill(filler);
                // make room for a few chunks again, then write until the disk is full
                try (var c = java.nio.channels.FileChannel.open(filler, java.nio.file.StandardOpenOption.WRITE)) {
                    c.truncate(Files.size(filler) - (2 << 20));
                }
                StorageException full = null;
                for (int i = 0; i < 200 && full == null; i++) {
                    random.nextBytes(chunk);
                    try (TenantStore.Batch b = store.newBatch()) {
                        b.putWal(committed, chunk);
                        b.setDurableLsn(committed.plus(chunk.length), committed.plus(chunk.length));
                        b.commit();
                        stored.write(chunk);
                        committed = committed.plus(chunk.length);
                    } catch (StorageException e) {
                        full = e;
                    }
                }
                assertTrue(full != null, "the writes never filled the file system");
                assertTrue(DiskFull.detail(full).orElseThrow().endsWith("No space left on device"), full.getMessage());
                assertTrue(stored.size() > 0, "some chunks went in before");
                assertEquals(committed, store.durableLsn(), "reads go on, and the failed write is not applied");
                StorageException refused = assertThrows(StorageException.class, () -> DiskFull.probe(store));
                assertTrue(DiskFull.detail(refused).isPresent(), refused.getMessage());

                Files.delete(filler);
                awaitProbeSucceeds(store, Duration.ofSeconds(30));
                try (TenantStore.Batch b = store.newBatch()) {
                    b.putWal(committed, chunk);
                    b.setDurableLsn(committed.plus(chunk.length), committed.plus(chunk.length));
                    b.commit();
                    stored.write(chunk);
                    committed = committed.plus(chunk.length);
                }
            }
            try (TenantStore store = TenantStore.open(storeDir, true)) {
                assertEquals(committed, store.durableLsn());
                ByteArrayOutputStream raw = new ByteArrayOutputStream();
                Lsn first = new Lsn(0x1000000);
                store.readWal(first, committed.plus(1 << 20), (at, buf, off, len) -> raw.write(buf, off, len));
                assertArrayEquals(stored.toByteArray(), raw.toByteArray(), "every chunk committed, no other");
            }
        }
    }

    /** RocksDB's recovery looks at the free space every 5 s, and needs a write buffer's worth of it. */
    static void awaitProbeSucceeds(TenantStore store, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                DiskFull.probe(store);
                return;
            } catch (StorageException e) {
                assertTrue(DiskFull.detail(e).isPresent(), e.getMessage());
                assertTrue(System.nanoTime() < deadline, "RocksDB did not recover in " + timeout + ": " + e.getMessage());
                Thread.sleep(100);
            }
        }
    }
}
