package org.pageserver.mount;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;

/**
 * The data directory a clone shows: an upper directory (local, durable: the minimal base
 * backup's files and everything the compute writes) over the {@link LowerLayer} (relation
 * files as of the clone's LSN, read block by block from a {@link PageSource}). Plain Java, no
 * FUSE: {@link CloneFileSystem} maps FUSE calls onto it, and tests drive it directly.
 *
 * <p>A path resolves, in this order, to: the upper file or directory of that name (a lower
 * segment file the compute wrote to has an upper file plus a {@link CowFile} block map and
 * reads through to the lower layer for blocks it never wrote); nothing, if the path is a
 * {@link Whiteouts whiteout}; the lower file or directory.
 *
 * <p>Upper directory layout: {@code data/} (the upper files, at their data directory paths),
 * {@code cow/} (block maps, at the same paths), {@code whiteouts}.
 *
 * <p>Concurrency: FUSE calls arrive on several threads. Calls that change names (create,
 * unlink, rename, mkdir, rmdir, truncate, copy-up) hold the write lock; reads, writes, fsyncs
 * and lookups the read lock. Writes to one block map are serialized by the map.
 */
public final class CloneTree implements AutoCloseable {
    static final int BLCKSZ = LayeredBlocks.BLCKSZ;

    /** What a path is. */
    public enum Kind { DIRECTORY, FILE, SYMLINK }

    /** A resolved path; {@code size} in bytes for files. */
    public record Attributes(Kind kind, long size, long mtimeMillis) {
    }

    private final Path data;
    private final Path cowDir;
    private final LowerLayer lower;
    private final LayeredBlocks blocks;
    private final Whiteouts whiteouts;
    private final long mountedAt = System.currentTimeMillis();
    private final Map<String, CowFile> cows = new ConcurrentHashMap<>();
    private final Map<String, FileChannel> channels = new ConcurrentHashMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    /** A resolved node: at most one of upper/lower is null; a file with both is copy-on-write. */
    private record Node(Kind kind, Path upper, LowerLayer.Segment lower, BasicFileAttributes attrs) {
    }

    public CloneTree(Path upperDir, LowerLayer lower, PageSource source) throws IOException {
        this.data = upperDir.resolve("data");
        this.cowDir = upperDir.resolve("cow");
        this.lower = lower;
        this.blocks = new LayeredBlocks(source);
        Files.createDirectories(data);
        Files.createDirectories(cowDir);
        this.whiteouts = new Whiteouts(upperDir.resolve("whiteouts"));
        try (Stream<Path> s = Files.walk(cowDir)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                String rel = cowDir.relativize(p).toString();
                if (Files.exists(data.resolve(rel)) && lower.file(rel) != null) {
                    cows.put(rel, CowFile.open(p));
                } else {
                    Files.delete(p); // a copy-up cut short before its data file: the lower file is intact
                }
            }
        }
    }

    /** "/base/5/1259" or "base/5/1259" to "base/5/1259"; "/" to "". */
    static String relative(String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.contains("..")) {
            throw new IllegalArgumentException("path with ..: " + path);
        }
        return p;
    }

    private static String parentOf(String p) {
        int slash = p.lastIndexOf('/');
        return slash < 0 ? "" : p.substring(0, slash);
    }

    private Node resolve(String p) throws IOException {
        Path up = p.isEmpty() ? data : data.resolve(p);
        BasicFileAttributes a = null;
        try {
            a = Files.readAttributes(up, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            // not in the upper layer
        }
        if (a != null) {
            if (a.isDirectory()) {
                return new Node(Kind.DIRECTORY, up, null, a);
            }
            if (a.isSymbolicLink()) {
                return new Node(Kind.SYMLINK, up, null, a);
            }
            return new Node(Kind.FILE, up, cows.containsKey(p) ? lower.file(p) : null, a);
        }
        if (whiteouts.contains(p)) {
            return null;
        }
        LowerLayer.Segment seg = lower.file(p);
        if (seg != null) {
            return new Node(Kind.FILE, null, seg, null);
        }
        if (lower.isDirectory(p)) {
            return new Node(Kind.DIRECTORY, null, null, null);
        }
        return null;
    }

    private Node existing(String p) throws IOException, FsException {
        Node n = resolve(p);
        if (n == null) {
            throw new FsException(FsException.ENOENT, p);
        }
        return n;
    }

    public Attributes attributes(String path) throws IOException, FsException {
        String p = relative(path);
        lock.readLock().lock();
        try {
            Node n = existing(p);
            if (n.attrs == null) {
                return new Attributes(n.kind, n.kind == Kind.FILE ? n.lower.size() : 0, mountedAt);
            }
            return new Attributes(n.kind, n.kind == Kind.DIRECTORY ? 0 : n.attrs.size(),
                n.attrs.lastModifiedTime().toMillis());
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The names in a directory: the upper layer's and the lower layer's not whited out. */
    public List<String> list(String path) throws IOException, FsException {
        String p = relative(path);
        lock.readLock().lock();
        try {
            Node n = existing(p);
            if (n.kind != Kind.DIRECTORY) {
                throw new FsException(FsException.ENOTDIR, p);
            }
            TreeSet<String> names = new TreeSet<>();
            if (n.upper != null) {
                try (Stream<Path> s = Files.list(n.upper)) {
                    s.forEach(c -> names.add(c.getFileName().toString()));
                }
            }
            for (String name : lower.list(p)) {
                if (!whiteouts.contains(p.isEmpty() ? name : p + "/" + name)) {
                    names.add(name);
                }
            }
            return new ArrayList<>(names);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * What a descriptor opened now keeps of the file, for calls after its name is gone: a
     * channel of its own for a file only in the upper layer, the segment for one only in the
     * lower layer, nothing for a copy-on-write file or a directory.
     */
    public OpenFile open(String path) throws IOException, FsException {
        String p = relative(path);
        lock.readLock().lock();
        try {
            Node n = existing(p);
            if (n.kind != Kind.FILE) {
                return OpenFile.none();
            }
            if (n.lower == null) {
                return OpenFile.upper(FileChannel.open(n.upper, StandardOpenOption.READ, StandardOpenOption.WRITE));
            }
            return n.upper == null ? OpenFile.lower(n.lower, blocks) : OpenFile.none();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Reads up to {@code len} bytes at {@code offset}; returns the count (0 at or past the end). */
    public int read(String path, long offset, byte[] dst, int len) throws IOException, FsException {
        String p = relative(path);
        lock.readLock().lock();
        try {
            Node n = existing(p);
            if (n.kind != Kind.FILE) {
                throw new FsException(FsException.EISDIR, p);
            }
            long size = n.attrs != null ? n.attrs.size() : n.lower.size();
            if (offset >= size) {
                return 0;
            }
            int count = (int) Math.min(len, size - offset);
            if (n.lower == null) {
                return LayeredBlocks.readUpper(channel(p, n.upper), offset, dst, 0, count);
            }
            CowFile cow = cows.get(p);
            blocks.read(n.lower, cow, cow == null ? null : channel(p, n.upper), offset, dst, count);
            return count;
        } finally {
            lock.readLock().unlock();
        }
    }

    private FileChannel channel(String p, Path upper) throws IOException {
        FileChannel ch = channels.get(p);
        if (ch != null && ch.isOpen()) {
            return ch;
        }
        FileChannel opened = FileChannel.open(upper, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel prev = channels.putIfAbsent(p, opened);
        if (prev != null) {
            opened.close();
            return prev;
        }
        return opened;
    }

    private void closeChannel(String p) throws IOException {
        FileChannel ch = channels.remove(p);
        if (ch != null) {
            ch.close();
        }
    }

    /** Writes {@code len} bytes at {@code offset} (extending the file past its end as pwrite does). */
    public void write(String path, long offset, byte[] src, int len) throws IOException, FsException {
        String p = relative(path);
        while (true) {
            lock.readLock().lock();
            try {
                Node n = existing(p);
                if (n.kind != Kind.FILE) {
                    throw new FsException(FsException.EISDIR, p);
                }
                if (n.upper != null) {
                    FileChannel ch = channel(p, n.upper);
                    CowFile cow = n.lower == null ? null : cows.get(p);
                    if (cow == null) {
                        LayeredBlocks.writeFully(ch, offset, src, 0, len);
                    } else {
                        blocks.write(n.lower, cow, ch, offset, src, len);
                    }
                    return;
                }
            } finally {
                lock.readLock().unlock();
            }
            copyUp(p);
        }
    }

    /**
     * Gives a lower file an upper file: its block map first (durable), then a sparse data file
     * of the lower size (durable), so a crash in between leaves either the lower file intact
     * or a complete copy-on-write file.
     */
    private void copyUp(String p) throws IOException, FsException {
        lock.writeLock().lock();
        try {
            Node n = existing(p);
            if (n.upper != null) {
                return;
            }
            if (n.kind != Kind.FILE) {
                throw new FsException(FsException.EISDIR, p);
            }
            CowFile cow = CowFile.create(cowDir.resolve(p), n.lower.nblocks());
            Path up = data.resolve(p);
            Files.createDirectories(up.getParent());
            try (FileChannel ch = FileChannel.open(up, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                LayeredBlocks.setLength(ch, n.lower.size());
                ch.force(true);
            }
            forceDirectory(up.getParent());
            cows.put(p, cow);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** ftruncate/truncate: to any size; blocks cut off a lower file never come back from below. */
    public void truncate(String path, long size) throws IOException, FsException {
        String p = relative(path);
        if (size < 0) {
            throw new FsException(FsException.EINVAL, "negative size");
        }
        Node before = resolveLocked(p);
        if (before != null && before.kind == Kind.FILE && before.upper == null) {
            copyUp(p);
        }
        lock.writeLock().lock();
        try {
            Node n = existing(p);
            if (n.kind != Kind.FILE) {
                throw new FsException(FsException.EISDIR, p);
            }
            FileChannel ch = channel(p, n.upper);
            CowFile cow = n.lower == null ? null : cows.get(p);
            if (cow != null) {
                blocks.truncate(n.lower, cow, ch, size);
            } else {
                LayeredBlocks.setLength(ch, size);
            }
            if (cow != null && cow.lowerBlocks() == 0) {
                // nothing left below: a plain upper file from now on (PostgreSQL truncates a
                // dropped relation's first segment to 0 before it unlinks it)
                ch.force(true);
                cows.remove(p);
                cow.close();
                Files.delete(cowDir.resolve(p));
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private Node resolveLocked(String p) throws IOException {
        lock.readLock().lock();
        try {
            return resolve(p);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** A new empty file; EEXIST when the path shows anything. */
    public void create(String path) throws IOException, FsException {
        String p = relative(path);
        lock.writeLock().lock();
        try {
            if (resolve(p) != null) {
                throw new FsException(FsException.EEXIST, p);
            }
            Path up = upperParent(p).resolve(p.substring(p.lastIndexOf('/') + 1));
            Files.createFile(up);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The upper directory for the parent of {@code p}, made if only the lower layer had it. */
    private Path upperParent(String p) throws IOException, FsException {
        String parent = parentOf(p);
        Node n = existing(parent);
        if (n.kind != Kind.DIRECTORY) {
            throw new FsException(FsException.ENOTDIR, parent);
        }
        Path up = parent.isEmpty() ? data : data.resolve(parent);
        if (n.upper == null) {
            Files.createDirectories(up);
        }
        return up;
    }

    public void mkdir(String path) throws IOException, FsException {
        String p = relative(path);
        lock.writeLock().lock();
        try {
            if (resolve(p) != null) {
                throw new FsException(FsException.EEXIST, p);
            }
            Files.createDirectory(upperParent(p).resolve(p.substring(p.lastIndexOf('/') + 1)));
        } finally {
            lock.writeLock().unlock();
        }
    }

    public void symlink(String target, String path) throws IOException, FsException {
        String p = relative(path);
        lock.writeLock().lock();
        try {
            if (resolve(p) != null) {
                throw new FsException(FsException.EEXIST, p);
            }
            Files.createSymbolicLink(upperParent(p).resolve(p.substring(p.lastIndexOf('/') + 1)), Path.of(target));
        } finally {
            lock.writeLock().unlock();
        }
    }

    public String readlink(String path) throws IOException, FsException {
        String p = relative(path);
        Node n = resolveLocked(p);
        if (n == null || n.kind != Kind.SYMLINK) {
            throw new FsException(n == null ? FsException.ENOENT : FsException.EINVAL, p);
        }
        return Files.readSymbolicLink(n.upper).toString();
    }

    /** unlink: the upper file and its block map go; a lower file of that name is whited out. */
    public void unlink(String path) throws IOException, FsException {
        String p = relative(path);
        lock.writeLock().lock();
        try {
            Node n = existing(p);
            if (n.kind == Kind.DIRECTORY) {
                throw new FsException(FsException.EISDIR, p);
            }
            removeUpperFile(p, n);
            if (lower.file(p) != null) {
                whiteouts.add(p);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void removeUpperFile(String p, Node n) throws IOException {
        closeChannel(p);
        CowFile cow = cows.remove(p);
        if (cow != null) {
            cow.close();
        }
        if (n.upper != null) {
            Files.delete(n.upper);
        }
        Files.deleteIfExists(cowDir.resolve(p));
    }

    public void rmdir(String path) throws IOException, FsException {
        String p = relative(path);
        if (p.isEmpty()) {
            throw new FsException(FsException.EINVAL, "the root");
        }
        lock.writeLock().lock();
        try {
            Node n = existing(p);
            if (n.kind != Kind.DIRECTORY) {
                throw new FsException(FsException.ENOTDIR, p);
            }
            if (!list(p).isEmpty()) {
                throw new FsException(FsException.ENOTEMPTY, p);
            }
            if (n.upper != null) {
                try {
                    Files.delete(n.upper);
                } catch (DirectoryNotEmptyException e) {
                    throw new FsException(FsException.ENOTEMPTY, p);
                }
            }
            if (lower.isDirectory(p)) {
                whiteouts.add(p);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * rename(2), atomic in the upper layer. A file with lower blocks is first copied up whole
     * (PostgreSQL renames WAL segments, temp files and configuration files, not relation
     * segments, so this is rare); a directory the lower layer has cannot move (EXDEV, as
     * across filesystems).
     */
    public void rename(String from, String to) throws IOException, FsException {
        String a = relative(from);
        String b = relative(to);
        Node before = resolveLocked(a);
        if (before != null && before.kind == Kind.FILE && before.upper == null) {
            copyUp(a);
        }
        lock.writeLock().lock();
        try {
            Node na = existing(a);
            if (na.kind == Kind.DIRECTORY && lower.isDirectory(a)) {
                throw new FsException(FsException.EXDEV, a);
            }
            if (na.lower != null) {
                materialize(a, na);
            }
            Node nb = resolve(b);
            if (nb != null && nb.kind == Kind.DIRECTORY && na.kind != Kind.DIRECTORY) {
                throw new FsException(FsException.EISDIR, b);
            }
            if (nb != null && nb.kind != Kind.DIRECTORY) {
                closeChannel(b);
                CowFile cow = cows.remove(b);
                if (cow != null) {
                    cow.close();
                }
                Files.deleteIfExists(cowDir.resolve(b));
            }
            Path target = upperParent(b).resolve(b.substring(b.lastIndexOf('/') + 1));
            closeChannel(a);
            try {
                Files.move(na.upper, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (DirectoryNotEmptyException e) {
                throw new FsException(FsException.ENOTEMPTY, b);
            } catch (FileAlreadyExistsException e) {
                throw new FsException(FsException.EEXIST, b);
            }
            if (lower.file(a) != null || lower.isDirectory(a)) {
                whiteouts.add(a);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Copies every block still below into the upper file, then drops the block map. */
    private void materialize(String p, Node n) throws IOException {
        CowFile cow = cows.get(p);
        blocks.materialize(n.lower, cow, channel(p, n.upper));
        cows.remove(p);
        cow.close();
        Files.delete(cowDir.resolve(p));
    }

    /** fsync: the upper file and its block map are durable when this returns. */
    public void fsync(String path) throws IOException, FsException {
        String p = relative(path);
        lock.readLock().lock();
        try {
            Node n = existing(p);
            if (n.upper == null) {
                return; // a lower file never written: nothing of it is local
            }
            if (n.kind == Kind.DIRECTORY) {
                forceDirectory(n.upper);
                return;
            }
            if (n.kind == Kind.FILE) {
                channel(p, n.upper).force(true);
                CowFile cow = n.lower == null ? null : cows.get(p);
                if (cow != null) {
                    cow.force();
                }
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    private static void forceDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** How much of the upper directory's disk the clone uses, for statfs. */
    public Path upperData() {
        return data;
    }

    @Override
    public void close() throws IOException {
        lock.writeLock().lock();
        try {
            for (String p : new ArrayList<>(channels.keySet())) {
                closeChannel(p);
            }
            for (CowFile c : cows.values()) {
                c.close();
            }
            cows.clear();
            whiteouts.close();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
