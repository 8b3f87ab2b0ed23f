package org.pageserver.mount;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Unpacks a base backup tar into a directory, durably: every file forced, then every
 * directory, so the clone's state file written afterwards never describes a half-written
 * upper directory. The forces run at once on threads of their own: one after the other, each
 * waits for its own journal commit, which takes seconds for a few dozen files while the disk
 * is busy writing something else back; at once, they share commits. Files are written sparse: an all-zero 8 kB block is a hole (reads as the
 * same zeros). The minimal backup's WAL segment is 16 MB of which one page is not zero; written
 * sparse it costs the upper directory 8 kB instead of 16 MB.
 */
final class BackupExtractor {
    private BackupExtractor() {
    }

    /** Returns the number of files written. */
    static int extract(InputStream tar, Path into) throws IOException {
        Path root = into.toAbsolutePath().normalize();
        List<Path> dirs = new ArrayList<>();
        dirs.add(root);
        List<Path> files = new ArrayList<>();
        TarArchiveInputStream in = new TarArchiveInputStream(tar);
        TarArchiveEntry e;
        while ((e = in.getNextEntry()) != null) {
            Path target = root.resolve(e.getName()).normalize();
            if (!target.startsWith(root)) {
                throw new IOException("base backup entry outside the data directory: " + e.getName());
            }
            if (e.isDirectory()) {
                Files.createDirectories(target);
                dirs.add(target);
            } else if (e.isSymbolicLink()) {
                Files.createDirectories(target.getParent());
                Files.createSymbolicLink(target, Path.of(e.getLinkName()));
            } else {
                Files.createDirectories(target.getParent());
                try (FileChannel ch = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    writeSparse(in, ch);
                }
                files.add(target);
            }
        }
        forceAll(files);
        forceAll(dirs);
        return files.size();
    }

    /** Forces every file or directory, all at once; the first failure is thrown. */
    static void forceAll(List<Path> paths) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(paths.size(), 32)), r -> {
            Thread t = new Thread(r, "force");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> forced = new ArrayList<>();
            for (Path p : paths) {
                forced.add(pool.submit(() -> {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                        ch.force(true);
                    }
                    return null;
                }));
            }
            for (Future<?> f : forced) {
                f.get();
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while forcing the base backup's files");
        } finally {
            pool.shutdownNow();
        }
    }

    private static void writeSparse(InputStream in, FileChannel ch) throws IOException {
        byte[] block = new byte[8192];
        long pos = 0;
        while (true) {
            int n = in.readNBytes(block, 0, block.length);
            if (n == 0) {
                break;
            }
            if (!isZero(block, n)) {
                LayeredBlocks.writeFully(ch, pos, block, 0, n);
            }
            pos += n;
        }
        LayeredBlocks.setLength(ch, pos);
    }

    private static boolean isZero(byte[] b, int n) {
        for (int i = 0; i < n; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
