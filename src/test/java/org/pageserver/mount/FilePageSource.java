package org.pageserver.mount;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.RelTag;

/** Lower blocks from the relation files of a plain data directory: the layering without a server. */
final class FilePageSource implements PageSource {
    private final Path dataDir;
    final AtomicLong blocksRead = new AtomicLong();

    FilePageSource(Path dataDir) {
        this.dataDir = dataDir;
    }

    @Override
    public void read(RelTag rel, long first, int count, long limit, byte[] dst, int dstOff) throws IOException {
        for (int i = 0; i < count; i++) {
            long b = first + i;
            long seg = b / RelFileName.RELSEG_SIZE;
            Path f = dataDir.resolve(rel.path() + (seg == 0 ? "" : "." + seg));
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
                raf.seek((b % RelFileName.RELSEG_SIZE) * RelFileName.BLCKSZ);
                raf.readFully(dst, dstOff + i * RelFileName.BLCKSZ, RelFileName.BLCKSZ);
            }
            blocksRead.incrementAndGet();
        }
    }

    @Override
    public void close() {
    }
}
