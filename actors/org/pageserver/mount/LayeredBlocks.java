package org.pageserver.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import org.pageserver.protocol.RelFileName;

/**
 * The block I/O of a file that has lower blocks: a lower segment file never written (no upper
 * file, no map) or a copy-on-write one (an upper file and its {@link CowFile}). Which block
 * comes from where is the map's to say; this class moves the bytes. {@link CloneTree} decides
 * which file an operation is about and holds the locks.
 */
final class LayeredBlocks {
    static final int BLCKSZ = RelFileName.BLCKSZ;

    private final PageSource source;

    LayeredBlocks(PageSource source) {
        this.source = source;
    }

    /**
     * Reads {@code count} bytes at {@code offset} (within the file's size): each run of lower
     * blocks in one pipelined request, each run of upper blocks by pread (zeros in holes).
     *
     * @param cow   the block map, or null for a file never written (all blocks below)
     * @param upper the upper file, or null when cow is null
     */
    void read(LowerLayer.Segment lower, CowFile cow, FileChannel upper, long offset, byte[] dst, int count)
        throws IOException {
        long firstBlock = offset / BLCKSZ;
        long lastBlock = (offset + count - 1) / BLCKSZ;
        int lowerLimit = cow == null ? lower.nblocks() : cow.lowerBlocks();
        long b = firstBlock;
        while (b <= lastBlock) {
            boolean fromLower = cow == null ? b < lowerLimit : cow.fromLower(b);
            long end = b + 1;
            while (end <= lastBlock && (cow == null ? end < lowerLimit : cow.fromLower(end)) == fromLower) {
                end++;
            }
            long runStart = Math.max(offset, b * BLCKSZ);
            long runEnd = Math.min(offset + count, end * BLCKSZ);
            int dstOff = (int) (runStart - offset);
            if (fromLower) {
                int blocks = (int) (end - b);
                byte[] buf = new byte[blocks * BLCKSZ];
                source.read(lower.source(), lower.firstBlock() + b, blocks, lower.firstBlock() + lowerLimit, buf, 0);
                System.arraycopy(buf, (int) (runStart - b * BLCKSZ), dst, dstOff, (int) (runEnd - runStart));
            } else {
                int got = readUpper(upper, runStart, dst, dstOff, (int) (runEnd - runStart));
                Arrays.fill(dst, dstOff + got, dstOff + (int) (runEnd - runStart), (byte) 0);
            }
            b = end;
        }
    }

    /** A write into a copy-on-write file: a block partly overwritten is first copied up whole. */
    void write(LowerLayer.Segment lower, CowFile cow, FileChannel upper, long offset, byte[] src, int len)
        throws IOException {
        synchronized (cow) {
            long first = offset / BLCKSZ;
            long last = (offset + len - 1) / BLCKSZ;
            for (long b : new long[] {first, last}) {
                boolean whole = offset <= b * BLCKSZ && offset + len >= (b + 1) * BLCKSZ;
                if (!whole && cow.fromLower(b)) {
                    copyBlockUp(lower, cow, upper, b);
                }
            }
            writeFully(upper, offset, src, 0, len);
            for (long b = first; b <= last; b++) {
                cow.markWritten(b);
            }
        }
    }

    /**
     * Truncates a copy-on-write file to {@code size}: a block cut in the middle keeps its head
     * (copied up first), and nothing at or past the cut comes from below again.
     */
    void truncate(LowerLayer.Segment lower, CowFile cow, FileChannel upper, long size) throws IOException {
        synchronized (cow) {
            long partial = size / BLCKSZ;
            if (size % BLCKSZ != 0 && cow.fromLower(partial)) {
                copyBlockUp(lower, cow, upper, partial);
            }
            cow.truncate(size / BLCKSZ + (size % BLCKSZ != 0 ? 1 : 0));
            setLength(upper, size);
        }
    }

    /** Copies every block still below into the upper file and forces it; the map is then moot. */
    void materialize(LowerLayer.Segment lower, CowFile cow, FileChannel upper) throws IOException {
        synchronized (cow) {
            int limit = cow.lowerBlocks();
            byte[] buf = new byte[PageServerSource.READ_AHEAD * BLCKSZ];
            for (long b = 0; b < limit; b++) {
                if (cow.fromLower(b)) {
                    long end = b + 1;
                    while (end < limit && end - b < PageServerSource.READ_AHEAD && cow.fromLower(end)) {
                        end++;
                    }
                    int blocks = (int) (end - b);
                    source.read(lower.source(), lower.firstBlock() + b, blocks, lower.firstBlock() + limit, buf, 0);
                    writeFully(upper, b * BLCKSZ, buf, 0, blocks * BLCKSZ);
                    b = end - 1;
                }
            }
            upper.force(true);
        }
    }

    private void copyBlockUp(LowerLayer.Segment lower, CowFile cow, FileChannel upper, long b) throws IOException {
        byte[] page = new byte[BLCKSZ];
        source.read(lower.source(), lower.firstBlock() + b, 1, lower.firstBlock() + cow.lowerBlocks(), page, 0);
        writeFully(upper, b * BLCKSZ, page, 0, BLCKSZ);
        cow.markWritten(b);
    }

    /** pread until {@code len} bytes or the end of the file; returns the bytes read. */
    static int readUpper(FileChannel ch, long offset, byte[] dst, int dstOff, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(dst, dstOff, len);
        long pos = offset;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                break;
            }
            pos += r;
        }
        return (int) (pos - offset);
    }

    static void writeFully(FileChannel ch, long offset, byte[] src, int off, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(src, off, len);
        long pos = offset;
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    /** ftruncate to any size: shorter cuts, longer extends with a hole. */
    static void setLength(FileChannel ch, long size) throws IOException {
        long current = ch.size();
        if (size < current) {
            ch.truncate(size);
        } else if (size > current) {
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
    }
}
