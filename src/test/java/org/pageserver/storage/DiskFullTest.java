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
            try (StoreBatch b = s.newBatch()) {
                b.setDurableLsn(new Lsn(0x3000), new Lsn(0x2F00));
                b.commit();
            }
            DiskFull.probe(s);
            assertEquals(new Lsn(0x3000), s.durableLsn());
            assertEquals(new Lsn(0x2F00), s.lastRecordLsn());
        }
    }

    /**
     * Chunks of raw WAL written to a store, each with its durable LSN, until one fails: what
     * went in, and the failure.
     */
    static final class Writes {
        static final Lsn FIRST = new Lsn(0x1000000);
        final Random random = new Random(15);
        final byte[] chunk = new byte[256 << 10];
        final ByteArrayOutputStream stored = new ByteArrayOutputStream();
        Lsn committed = FIRST;

        /** Writes one chunk (new random bytes); throws what the store throws. */
        void write(TenantStore store) {
            random.nextBytes(chunk);
            try (StoreBatch b = store.newBatch()) {
                b.putWal(committed, chunk);
                b.setDurableLsn(committed.plus(chunk.length), committed.plus(chunk.length));
                b.commit();
            }
            stored.write(chunk, 0, chunk.length);
            committed = committed.plus(chunk.length);
        }

        /** Fills {@code fs} but for 2 MB, then writes until a write fails, which it returns. */
        StorageException untilFull(TenantStore store, Tmpfs fs, Path filler) throws IOException {
            fs.fill(filler);
            try (var c = java.nio.channels.FileChannel.open(filler, java.nio.file.StandardOpenOption.WRITE)) {
                c.truncate(Files.size(filler) - (2 << 20));
            }
            for (int i = 0; i < 200; i++) {
                try {
                    write(store);
                } catch (StorageException e) {
                    assertTrue(stored.size() > 0, "some chunks went in before");
                    return e;
                }
            }
            throw new AssertionError("the writes never filled the file system");
        }

        /** After a reopen: every chunk committed is there, and nothing else. */
        void assertStoredIn(Path storeDir) {
            try (TenantStore store = TenantStore.open(storeDir, true)) {
                assertEquals(committed, store.durableLsn());
                ByteArrayOutputStream raw = new ByteArrayOutputStream();
                store.readWal(FIRST, committed.plus(1 << 20), (at, buf, off, len) -> raw.write(buf, off, len));
                assertArrayEquals(stored.toByteArray(), raw.toByteArray(), "every chunk committed, no other");
            }
        }
    }

    /**
     * What the pause relies on, on a real full file system (a tmpfs; root only): RocksDB's write
     * fails with NoSpace and is not applied, reads go on, the probe fails while RocksDB has not
     * recovered, and once a filler file is removed RocksDB recovers by itself and writes go on,
     * with everything committed before the failure there after a reopen, and nothing of the
     * failed write. The tmpfs leaves room for the recovery once the filler is gone: it waits for
     * a write buffer's worth of free space (32 MB).
     */
    @Test
    void aStoreOnAFullFileSystemRefusesWritesKeepsWhatItHasAndRecoversWhenSpaceReturns() throws Exception {
        assumeTrue(Tmpfs.canMount(), "mounting a tmpfs needs root");
        Writes writes = new Writes();
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("mnt"), 96)) {
            Path storeDir = fs.dir().resolve("tenant");
            try (TenantStore store = TenantStore.open(storeDir, true)) {
                Path filler = fs.dir().resolve("filler");
                StorageException full = writes.untilFull(store, fs, filler);
                assertTrue(DiskFull.detail(full).orElseThrow().endsWith("No space left on device"), full.getMessage());
                assertEquals(writes.committed, store.durableLsn(), "reads go on, and the failed write is not applied");
                StorageException refused = assertThrows(StorageException.class, () -> DiskFull.probe(store));
                assertTrue(DiskFull.detail(refused).isPresent(), refused.getMessage());

                Files.delete(filler);
                awaitProbeSucceeds(store, Duration.ofSeconds(30));
                writes.write(store);
            }
            writes.assertStoredIn(storeDir);
        }
    }

    /**
     * A store closed on a full disk (a restart then) does not open while the disk is full, with
     * an error that says so, and opens with everything committed once there is room.
     */
    @Test
    void aStoreDoesNotOpenOnAFullFileSystemAndOpensWholeWhenSpaceReturns() throws Exception {
        assumeTrue(Tmpfs.canMount(), "mounting a tmpfs needs root");
        Writes writes = new Writes();
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("mnt"), 96)) {
            Path storeDir = fs.dir().resolve("tenant");
            Path filler = fs.dir().resolve("filler");
            try (TenantStore store = TenantStore.open(storeDir, true)) {
                writes.untilFull(store, fs, filler);
            }
            fs.fill(fs.dir().resolve("filler2"));
            StorageException refused = assertThrows(StorageException.class, () -> TenantStore.open(storeDir, true));
            assertTrue(DiskFull.detail(refused).isPresent(), refused.getMessage());
            Files.delete(filler);
            Files.delete(fs.dir().resolve("filler2"));
            writes.assertStoredIn(storeDir);
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
