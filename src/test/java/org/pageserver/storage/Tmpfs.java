package org.pageserver.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small tmpfs mounted for a test, to be filled up: a full disk on demand. Mounting needs root
 * (the tests run as root in CI; {@link #canMount} says whether they may here). Closing unmounts
 * it, and everything on it is gone.
 */
public final class Tmpfs implements AutoCloseable {
    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    public static boolean canMount() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Mounts a tmpfs of {@code megabytes} on {@code dir} (created if needed). */
    public static Tmpfs mount(Path dir, int megabytes) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        run(List.of("mount", "-t", "tmpfs", "-o", "size=" + megabytes + "m", "tmpfs", dir.toString()));
        return new Tmpfs(dir);
    }

    public Path dir() {
        return dir;
    }

    public long freeBytes() throws IOException {
        return Files.getFileStore(dir).getUsableSpace();
    }

    /**
     * Writes zeros to {@code file} until the file system is full (the write fails with ENOSPC),
     * in 1 MB pieces and then 4 kB ones, so that not a page is left. Returns the bytes written.
     */
    public long fill(Path file) throws IOException {
        long written = 0;
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.APPEND)) {
            for (int piece : new int[] {1 << 20, 4096}) {
                ByteBuffer zeros = ByteBuffer.allocate(piece);
                while (true) {
                    zeros.clear();
                    try {
                        while (zeros.hasRemaining()) {
                            written += c.write(zeros);
                        }
                    } catch (IOException e) {
                        if (DiskFull.detail(e).isEmpty()) {
                            throw e;
                        }
                        break;
                    }
                }
            }
        }
        return written;
    }

    /** Unmounts; a file still open on it (a process that did not stop) makes it a lazy unmount. */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            run(List.of("umount", dir.toString()));
        } catch (IOException busy) {
            run(List.of("umount", "-l", dir.toString()));
        }
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
