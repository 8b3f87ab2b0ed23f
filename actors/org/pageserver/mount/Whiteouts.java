package org.pageserver.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

/**
 * The lower-layer paths the compute removed (unlink, rmdir, or the source of a rename): they no
 * longer show unless the upper layer has a file of that name again. Kept in memory and in an
 * append-only file of one path a line, forced at every addition, so an unlink is durable when it
 * returns (PostgreSQL unlinks rarely: dropped relations at checkpoints, old WAL, temp files).
 * Entries are never removed: a whiteout only matters where the upper layer has nothing, and
 * the upper layer is consulted first.
 */
final class Whiteouts implements AutoCloseable {
    private final Set<String> paths = new HashSet<>();
    private final FileChannel log;

    Whiteouts(Path file) throws IOException {
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isEmpty()) {
                    paths.add(line);
                }
            }
        }
        log = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    synchronized boolean contains(String path) {
        return paths.contains(path);
    }

    synchronized void add(String path) throws IOException {
        if (paths.add(path)) {
            ByteBuffer b = ByteBuffer.wrap((path + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                log.write(b);
            }
            log.force(false);
        }
    }

    synchronized int size() {
        return paths.size();
    }

    @Override
    public void close() throws IOException {
        log.close();
    }
}
