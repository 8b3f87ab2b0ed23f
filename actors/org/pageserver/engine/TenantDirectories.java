package org.pageserver.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.pageserver.protocol.SystemId;

/**
 * Where each tenant's data lives in the data directory, and how it moves: {@code tenants/<id>}
 * while attached (what start-up attaches), {@code detached/<id>} once detached with its data
 * kept, {@code deleting/<id>} on its way out. Each move is one rename with both parents
 * synced, so a detach is durable and a crash never leaves a half-deleted tenant where it could
 * be attached again. Blocking: callers run it on the blocking dispatcher.
 */
public final class TenantDirectories {
    private final Path dataDir;

    public TenantDirectories(Path dataDir) {
        this.dataDir = dataDir;
    }

    /** Where the attached tenants are: what start-up attaches. */
    public Path tenantsDir() {
        return dataDir.resolve("tenants");
    }

    /** The directory of an attached tenant. */
    public Path attached(SystemId id) {
        return tenantsDir().resolve(id.toString());
    }

    public Path detached(SystemId id) {
        return dataDir.resolve("detached").resolve(id.toString());
    }

    private Path deleting() {
        return dataDir.resolve("deleting");
    }

    public boolean isDetached(SystemId id) {
        return Files.isDirectory(detached(id));
    }

    /** Moves an attached tenant's (closed) data aside, for a later {@link #reattach}. */
    public void detach(SystemId id) {
        move(attached(id), detached(id));
    }

    public void reattach(SystemId id) {
        move(detached(id), attached(id));
    }

    /** Removes an attached tenant's (closed) data: first out of {@code tenants/} in one rename, then from disk. */
    public void delete(SystemId id) {
        Path doomed = deleting().resolve(id.toString());
        move(attached(id), doomed);
        deleteTree(doomed);
    }

    /** At start-up: what a crash left in {@code deleting/}. */
    public void finishDeletes() {
        if (Files.isDirectory(deleting())) {
            deleteTree(deleting());
        }
    }

    private static void move(Path from, Path to) {
        try {
            Files.createDirectories(to.getParent());
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(from.getParent());
            syncDirectory(to.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move " + from + " to " + to, e);
        }
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        }
    }

    public static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
