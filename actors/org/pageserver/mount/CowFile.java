package org.pageserver.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * The block map of a lower-layer segment file the compute has written to (copy-on-write at
 * block granularity). The file's data lives in a sparse upper file whose size is the file's
 * size; this map says which of its blocks still come from the lower layer:
 * block b reads from the lower layer when {@code b < lowerBlocks} and b was never written,
 * else from the upper file (zeros where it has a hole).
 *
 * <p>On disk: {@code lowerBlocks} (4 bytes, big-endian), then one bit per block below it
 * (bit b%8 of byte b/8 set: written). A bit is set after its block's data was written, and the
 * map is forced with the data file, so after fsync returns both are durable.
 * Truncation lowers {@code lowerBlocks}: blocks past a truncation never come back from below.
 */
final class CowFile implements AutoCloseable {
    private static final int HEADER = 4;

    private final FileChannel map;
    private final BitSet written;
    private int lowerBlocks;

    private CowFile(FileChannel map, BitSet written, int lowerBlocks) {
        this.map = map;
        this.written = written;
        this.lowerBlocks = lowerBlocks;
    }

    /** A new map, durable before the caller creates the upper data file. */
    static CowFile create(Path file, int lowerBlocks) throws IOException {
        Files.createDirectories(file.getParent());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.READ, StandardOpenOption.WRITE);
        ch.write(ByteBuffer.allocate(HEADER).putInt(0, lowerBlocks), 0);
        ch.force(true);
        return new CowFile(ch, new BitSet(), lowerBlocks);
    }

    static CowFile open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        ByteBuffer b = ByteBuffer.allocate((int) ch.size());
        while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
            // read it all
        }
        if (b.capacity() < HEADER) {
            ch.close();
            throw new IOException("block map " + file + " is shorter than its header");
        }
        int lower = b.getInt(0);
        byte[] bits = new byte[b.capacity() - HEADER];
        b.get(HEADER, bits);
        return new CowFile(ch, BitSet.valueOf(bits), lower);
    }

    synchronized int lowerBlocks() {
        return lowerBlocks;
    }

    /** Whether block b is still the lower layer's. */
    synchronized boolean fromLower(long b) {
        return b < lowerBlocks && !written.get((int) b);
    }

    /** Records that block b now lives in the upper file. */
    synchronized void markWritten(long b) throws IOException {
        if (b >= lowerBlocks || written.get((int) b)) {
            return;
        }
        written.set((int) b);
        int byteIndex = (int) (b / 8);
        byte v = 0;
        for (int i = 0; i < 8; i++) {
            if (written.get(byteIndex * 8 + i)) {
                v |= (byte) (1 << i);
            }
        }
        map.write(ByteBuffer.wrap(new byte[] {v}), HEADER + byteIndex);
    }

    /** After a truncation to {@code blocks} whole blocks: nothing at or past it comes from below. */
    synchronized void truncate(long blocks) throws IOException {
        if (blocks >= lowerBlocks) {
            return;
        }
        lowerBlocks = (int) blocks;
        written.clear(lowerBlocks, Math.max(lowerBlocks, written.length()));
        map.write(ByteBuffer.allocate(HEADER).putInt(0, lowerBlocks), 0);
        map.truncate(HEADER + (lowerBlocks + 7) / 8);
        // the kept bits of the last byte may include cleared ones: rewrite it
        if (lowerBlocks % 8 != 0) {
            int byteIndex = lowerBlocks / 8;
            byte v = 0;
            for (int i = 0; i < 8; i++) {
                if (written.get(byteIndex * 8 + i)) {
                    v |= (byte) (1 << i);
                }
            }
            map.write(ByteBuffer.wrap(new byte[] {v}), HEADER + byteIndex);
        }
    }

    synchronized void force() throws IOException {
        map.force(false);
    }

    @Override
    public synchronized void close() throws IOException {
        map.close();
    }
}
