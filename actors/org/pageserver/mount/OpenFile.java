package org.pageserver.mount;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * What an open descriptor keeps of its file for the calls that come after its name is gone.
 * POSIX keeps an unlinked file, or one a rename replaced, alive for whoever has it open, and
 * PostgreSQL counts on it: {@code pg_ctl stop} opens postmaster.pid and reads it while the
 * postmaster unlinks it on its way out. For such a file libfuse passes no path (the mount runs
 * with hard_remove and nullpath_ok), only the handle, and {@link CloneFileSystem} turns to this.
 *
 * <p>A file that is only in the upper layer keeps a channel of its own, opened with the
 * descriptor, so that its inode outlives its name; a file only in the lower layer keeps its
 * segment, whose blocks as of the clone's LSN never change. A copy-on-write file keeps
 * neither: its block map goes with its name (PostgreSQL does not read a relation segment
 * after unlinking it): a read or write after that gets EIO, an fsync succeeds.
 *
 * <p>What libfuse 2's path API cannot give: fstat of a file whose name is gone (the kernel asks
 * for its attributes without the handle, and libfuse answers ENOENT). lseek to the end, which
 * is how PostgreSQL sizes a file, does pass the handle ({@code fgetattr}).
 */
final class OpenFile implements Closeable {
    private final FileChannel upper;
    private final LowerLayer.Segment lower;
    private final LayeredBlocks blocks;

    private OpenFile(FileChannel upper, LowerLayer.Segment lower, LayeredBlocks blocks) {
        this.upper = upper;
        this.lower = lower;
        this.blocks = blocks;
    }

    static OpenFile upper(FileChannel channel) {
        return new OpenFile(channel, null, null);
    }

    static OpenFile lower(LowerLayer.Segment segment, LayeredBlocks blocks) {
        return new OpenFile(null, segment, blocks);
    }

    /** A directory, or a copy-on-write file: nothing is kept. */
    static OpenFile none() {
        return new OpenFile(null, null, null);
    }

    long size() throws FsException, IOException {
        if (upper != null) {
            return upper.size();
        }
        if (lower != null) {
            return lower.size();
        }
        throw gone();
    }

    int read(long offset, byte[] dst, int len) throws IOException, FsException {
        long size = size();
        if (offset >= size) {
            return 0;
        }
        int count = (int) Math.min(len, size - offset);
        if (upper != null) {
            return LayeredBlocks.readUpper(upper, offset, dst, 0, count);
        }
        blocks.read(lower, null, null, offset, dst, count);
        return count;
    }

    void write(long offset, byte[] src, int len) throws IOException, FsException {
        LayeredBlocks.writeFully(writable(), offset, src, 0, len);
    }

    void truncate(long size) throws IOException, FsException {
        LayeredBlocks.setLength(writable(), size);
    }

    /**
     * fsync: a file with nothing kept is not an error, since no name reaches its data any
     * more, and an fsync failure would make PostgreSQL's checkpointer PANIC.
     */
    void force() throws IOException {
        if (upper != null) {
            upper.force(true);
        }
    }

    /** The upper channel; a lower file whose name is gone has nowhere to take a write. */
    private FileChannel writable() throws FsException {
        if (upper == null) {
            throw gone();
        }
        return upper;
    }

    private static FsException gone() {
        return new FsException(FsException.EIO, "a file whose name is gone, with nothing kept of it");
    }

    @Override
    public void close() throws IOException {
        if (upper != null) {
            upper.close();
        }
    }
}
