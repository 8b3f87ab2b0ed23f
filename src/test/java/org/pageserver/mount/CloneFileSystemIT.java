package org.pageserver.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * POSIX open-file semantics through the FUSE mount: a file stays readable and writable through
 * a descriptor opened before it was unlinked or replaced by a rename. PostgreSQL relies on it:
 * {@code pg_ctl stop} opens postmaster.pid while the postmaster unlinks it on its way out, and
 * a read that failed there made pg_ctl report "invalid data in PID file" (MountCloneIT in CI).
 * Not covered, because libfuse 2's path API cannot give it: fstat of such a file (the kernel
 * asks for its attributes without the handle, and libfuse has no path for it), which is also
 * why ftruncate is not tested here: Java's truncate starts with an fstat.
 */
class CloneFileSystemIT {
    @TempDir
    Path tmp;
    Path mountPoint;
    CloneTree tree;
    CloneFileSystem fs;

    @BeforeEach
    void mount() throws Exception {
        mountPoint = Files.createDirectories(tmp.resolve("mnt"));
        tree = new CloneTree(tmp.resolve("upper"), LowerLayer.of(Map.of()), new FilePageSource(tmp.resolve("lower")));
        fs = new CloneFileSystem(tree, 0, 0, System.err);
        fs.mountAndWait(mountPoint, 30_000);
    }

    @AfterEach
    void unmount() throws Exception {
        fs.umount();
        tree.close();
    }

    private static String read(FileChannel ch) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        int n = ch.read(b, 0);
        return new String(b.array(), 0, Math.max(n, 0), StandardCharsets.US_ASCII);
    }

    @Test
    void anUnlinkedFileIsReadThroughADescriptorOpenedBefore() throws Exception {
        Path pid = mountPoint.resolve("postmaster.pid");
        Files.writeString(pid, "4242\n/data\n");
        try (FileChannel ch = FileChannel.open(pid, StandardOpenOption.READ)) {
            Files.delete(pid);
            assertFalse(Files.exists(pid));
            assertEquals("4242\n/data\n", read(ch));
        }
    }

    @Test
    void anUnlinkedFileIsWrittenAndSyncedThroughADescriptorOpenedBefore() throws Exception {
        Path f = mountPoint.resolve("gone");
        Files.writeString(f, "old");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            Files.delete(f);
            ch.write(ByteBuffer.wrap("new!".getBytes(StandardCharsets.US_ASCII)), 0);
            ch.force(true);
            assertEquals("new!", read(ch));
        }
    }

    @Test
    void aFileReplacedByARenameKeepsItsContentForADescriptorOpenedBefore() throws Exception {
        Path stats = mountPoint.resolve("pgstat.stat");
        Path tmpStats = mountPoint.resolve("pgstat.tmp");
        Files.writeString(stats, "first");
        Files.writeString(tmpStats, "second");
        try (FileChannel ch = FileChannel.open(stats, StandardOpenOption.READ)) {
            Files.move(tmpStats, stats, StandardCopyOption.ATOMIC_MOVE);
            assertEquals("first", read(ch));
            assertEquals("second", Files.readString(stats));
        }
    }

    @Test
    void aRenamedFileIsReadThroughADescriptorOpenedBefore() throws Exception {
        Path a = mountPoint.resolve("a");
        Files.writeString(a, "content");
        try (FileChannel ch = FileChannel.open(a, StandardOpenOption.READ)) {
            Files.move(a, mountPoint.resolve("b"), StandardCopyOption.ATOMIC_MOVE);
            assertArrayEquals("content".getBytes(StandardCharsets.US_ASCII), read(ch).getBytes(StandardCharsets.US_ASCII));
        }
    }
}
