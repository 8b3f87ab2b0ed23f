package org.pageserver.mount;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.Struct;
import jnr.ffi.Pointer;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The FUSE face of a {@link CloneTree}, through jnr-fuse (libfuse 2, high-level path API).
 *
 * <p>Why jnr-fuse: it runs on the project's Java 17 and needs only the distribution's libfuse2
 * package; jfuse (the maintained alternative, on the Foreign Function API) needs Java 22+ and
 * libfuse 3, which would move the whole project to another JDK. The high-level API hands us
 * paths, which is what a layered directory keyed by data-directory paths wants anyway.
 *
 * <p>What PostgreSQL sees: every file and directory owned by the clone's owner, directories
 * 0700 and files 0600 (the modes PostgreSQL checks and creates; chmod and chown are accepted
 * and change nothing, since the upper files belong to whoever runs the mount). Mount options:
 * {@code allow_other} (PostgreSQL runs as another user than the mount), {@code hard_remove}
 * (an unlinked open file is not renamed to .fuse_hidden, which would copy a lower file up),
 * {@code big_writes} (8 kB pages arrive whole). An open file stays readable and writable after
 * its name is gone, as POSIX has it: each descriptor gets a handle ({@link OpenFile}), and
 * libfuse is told (nullpath_ok) to call with the handle and no path for such a file instead of
 * failing with ENOENT. sync_file_range needs nothing: the kernel does
 * not pass it to FUSE and it returns 0, so PostgreSQL neither warns nor panics. FSYNC and
 * FSYNCDIR are implemented: the compute's writes are durable in the upper directory when
 * fsync returns. Errors: ENOENT and friends as the tree gives them; an I/O failure (a block the
 * pageserver cannot give) is EIO, never zeros.
 */
public final class CloneFileSystem extends FuseStubFS {
    private static final int EIO = -FsException.EIO;

    private final CloneTree tree;
    private final int uid;
    private final int gid;
    private final java.io.PrintStream log;
    private final Map<Long, OpenFile> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);

    /**
     * @param log where I/O failures are reported (standard error: standard output carries only
     *            the {@code ready} line tools wait for)
     */
    public CloneFileSystem(CloneTree tree, int uid, int gid, java.io.PrintStream log) {
        this.tree = tree;
        this.uid = uid;
        this.gid = gid;
        this.log = log;
        setNullpathOk();
    }

    /**
     * Sets flag_nullpath_ok, bit 0 of the flags word of struct fuse_operations: without it
     * libfuse answers ENOENT for an unlinked open file before asking us. jnr-fuse declares the
     * word as padding and keeps a member's offset package-private, hence the reflection.
     */
    private void setNullpathOk() {
        try {
            java.lang.reflect.Method offset = Class.forName("jnr.ffi.Struct$Member").getDeclaredMethod("offset");
            offset.setAccessible(true);
            long at = (Long) offset.invoke(fuseOperations.flag_nullpath_ok);
            Pointer memory = Struct.getMemory(fuseOperations);
            memory.putByte(at, (byte) (memory.getByte(at) | 1));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("jnr-fuse's struct fuse_operations has no flags word where expected", e);
        }
    }

    /**
     * Mounts on {@code mountPoint} (an existing empty directory) on a thread of its own and
     * returns once the kernel lists the mount, so that what follows (PostgreSQL) sees it.
     */
    public void mountAndWait(Path mountPoint, long timeoutMillis) throws IOException {
        // kernel_cache: the kernel keeps a file's cached pages across open(), as it may because
        // nothing changes the files but writes through this mount (lower pages as of a fixed
        // LSN never change; the upper directory is this mount's alone), so that a page read
        // once is not fetched again by the next backend that opens the relation
        String[] options = {"-o",
            "allow_other,hard_remove,big_writes,max_write=131072,kernel_cache,fsname=pageserver,subtype=clone"};
        CompletableFuture<Void> ended = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                mount(mountPoint, true, false, options);
                ended.complete(null);
            } catch (RuntimeException e) {
                ended.completeExceptionally(e);
            }
        }, "fuse-" + mountPoint.getFileName());
        t.setDaemon(true);
        t.start();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!isMounted(mountPoint)) {
            if (ended.isDone()) {
                throw new IOException("FUSE mount on " + mountPoint + " failed: "
                    + ended.handle((v, e) -> e == null ? "libfuse returned" : e.getMessage()).join());
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("FUSE mount on " + mountPoint + " did not appear in " + timeoutMillis + " ms");
            }
            try {
                Thread.sleep(5); // the kernel has no notification for a new mount we can wait on
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while mounting", e);
            }
        }
    }

    /**
     * Unmounts and returns once the kernel no longer lists the mount: jnr-fuse starts
     * {@code fusermount -u -z} and does not wait for it, so that right after its umount the
     * mount point was still busy (a test's directory cleanup failed on it).
     */
    @Override
    public void umount() {
        Path mp = mountPoint;
        super.umount();
        if (mp == null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try {
            while (isMounted(mp) && System.nanoTime() < deadline) {
                Thread.sleep(5); // no notification for a mount going away either
            }
        } catch (IOException e) {
            log.println("mount: cannot read /proc/self/mountinfo after unmounting " + mp + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether /proc/self/mountinfo lists a fuse mount at {@code mountPoint}. */
    public static boolean isMounted(Path mountPoint) throws IOException {
        String mp = mountPoint.toAbsolutePath().normalize().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(mp) && line.contains(" - fuse")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a FUSE mount at {@code mountPoint} has lost its daemon (a mount process killed
     * with SIGKILL leaves one behind: every access fails with ENOTCONN).
     */
    public static boolean isStale(Path mountPoint) {
        try (var s = Files.list(mountPoint)) {
            s.findAny();
            return false;
        } catch (IOException e) {
            return String.valueOf(e.getMessage()).contains("Transport endpoint is not connected");
        }
    }

    /** Detaches a stale mount (fusermount -u -z), so a new mount can take its place. */
    public static void unmountStale(Path mountPoint) throws IOException {
        try {
            Process p = new ProcessBuilder("fusermount", "-u", "-z", mountPoint.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0) {
                throw new IOException("fusermount -u " + mountPoint + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private int fail(String op, String path, Exception e) {
        if (e instanceof FsException f) {
            return -f.errno();
        }
        log.println("mount: " + op + " " + path + ": EIO: " + e);
        return EIO;
    }

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            CloneTree.Attributes a = tree.attributes(path);
            int type = switch (a.kind()) {
                case DIRECTORY -> FileStat.S_IFDIR | 0700;
                case FILE -> FileStat.S_IFREG | 0600;
                case SYMLINK -> FileStat.S_IFLNK | 0777;
            };
            stat.st_mode.set(type);
            stat.st_uid.set(uid);
            stat.st_gid.set(gid);
            stat.st_nlink.set(a.kind() == CloneTree.Kind.DIRECTORY ? 2 : 1);
            stat.st_size.set(a.size());
            stat.st_blksize.set(CloneTree.BLCKSZ);
            stat.st_blocks.set((a.size() + 511) / 512);
            long sec = a.mtimeMillis() / 1000;
            long nsec = (a.mtimeMillis() % 1000) * 1_000_000;
            for (Timespec ts : new Timespec[] {stat.st_mtim, stat.st_atim, stat.st_ctim}) {
                ts.tv_sec.set(sec);
                ts.tv_nsec.set(nsec);
            }
            return 0;
        } catch (IOException | FsException e) {
            return fail("getattr", path, e);
        }
    }

    @Override
    public int fgetattr(String path, FileStat stat, FuseFileInfo fi) {
        if (path != null) {
            return getattr(path, stat);
        }
        try {
            stat.st_mode.set(FileStat.S_IFREG | 0600);
            stat.st_uid.set(uid);
            stat.st_gid.set(gid);
            stat.st_nlink.set(0);
            long size = handle(fi).size();
            stat.st_size.set(size);
            stat.st_blksize.set(CloneTree.BLCKSZ);
            stat.st_blocks.set((size + 511) / 512);
            return 0;
        } catch (IOException | FsException e) {
            return fail("fgetattr", "(unlinked)", e);
        }
    }

    private OpenFile handle(FuseFileInfo fi) throws FsException {
        OpenFile f = handles.get(fi.fh.get());
        if (f == null) {
            throw new FsException(FsException.EIO, "no open file for handle " + fi.fh.get());
        }
        return f;
    }

    private int opened(String op, String path, FuseFileInfo fi) {
        try {
            long h = nextHandle.getAndIncrement();
            handles.put(h, tree.open(path));
            fi.fh.set(h);
            return 0;
        } catch (IOException | FsException e) {
            return fail(op, path, e);
        }
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filter, @off_t long offset, FuseFileInfo fi) {
        try {
            List<String> names = tree.list(path);
            filter.apply(buf, ".", null, 0);
            filter.apply(buf, "..", null, 0);
            for (String n : names) {
                filter.apply(buf, n, null, 0);
            }
            return 0;
        } catch (IOException | FsException e) {
            return fail("readdir", path, e);
        }
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        return opened("open", path, fi);
    }

    @Override
    public int opendir(String path, FuseFileInfo fi) {
        return exists(path);
    }

    private int exists(String path) {
        try {
            tree.attributes(path);
            return 0;
        } catch (IOException | FsException e) {
            return fail("lookup", path, e);
        }
    }

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        try {
            tree.create(path);
        } catch (IOException | FsException e) {
            return fail("create", path, e);
        }
        return opened("create", path, fi);
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        try {
            byte[] b = new byte[(int) size];
            int n = path == null ? handle(fi).read(offset, b, (int) size) : tree.read(path, offset, b, (int) size);
            buf.put(0, b, 0, n);
            return n;
        } catch (IOException | FsException e) {
            return fail("read", path, e);
        }
    }

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        try {
            byte[] b = new byte[(int) size];
            buf.get(0, b, 0, (int) size);
            if (path == null) {
                handle(fi).write(offset, b, (int) size);
            } else {
                tree.write(path, offset, b, (int) size);
            }
            return (int) size;
        } catch (IOException | FsException e) {
            return fail("write", path, e);
        }
    }

    @Override
    public int truncate(String path, @off_t long size) {
        try {
            tree.truncate(path, size);
            return 0;
        } catch (IOException | FsException e) {
            return fail("truncate", path, e);
        }
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        if (path != null) {
            return truncate(path, size);
        }
        try {
            handle(fi).truncate(size);
            return 0;
        } catch (IOException | FsException e) {
            return fail("ftruncate", "(unlinked)", e);
        }
    }

    @Override
    public int unlink(String path) {
        try {
            tree.unlink(path);
            return 0;
        } catch (IOException | FsException e) {
            return fail("unlink", path, e);
        }
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        try {
            tree.mkdir(path);
            return 0;
        } catch (IOException | FsException e) {
            return fail("mkdir", path, e);
        }
    }

    @Override
    public int rmdir(String path) {
        try {
            tree.rmdir(path);
            return 0;
        } catch (IOException | FsException e) {
            return fail("rmdir", path, e);
        }
    }

    @Override
    public int rename(String oldpath, String newpath) {
        try {
            tree.rename(oldpath, newpath);
            return 0;
        } catch (IOException | FsException e) {
            return fail("rename", oldpath, e);
        }
    }

    @Override
    public int symlink(String oldpath, String newpath) {
        try {
            tree.symlink(oldpath, newpath);
            return 0;
        } catch (IOException | FsException e) {
            return fail("symlink", newpath, e);
        }
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        try {
            byte[] target = tree.readlink(path).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        } catch (IOException | FsException e) {
            return fail("readlink", path, e);
        }
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        try {
            if (path == null) {
                handle(fi).force();
            } else {
                tree.fsync(path);
            }
            return 0;
        } catch (IOException | FsException e) {
            return fail("fsync", path == null ? "(unlinked)" : path, e);
        }
    }

    @Override
    public int fsyncdir(String path, FuseFileInfo fi) {
        try {
            tree.fsync(path);
            return 0;
        } catch (IOException | FsException e) {
            return fail("fsyncdir", path, e);
        }
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        return 0;
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        OpenFile f = handles.remove(fi.fh.get());
        if (f != null) {
            try {
                f.close();
            } catch (IOException e) {
                return fail("release", path, e);
            }
        }
        return 0;
    }

    @Override
    public int releasedir(String path, FuseFileInfo fi) {
        return 0;
    }

    /** chmod, chown, utimens: accepted, no effect (see the class comment). */
    @Override
    public int chmod(String path, @mode_t long mode) {
        return exists(path);
    }

    @Override
    public int chown(String path, long uid, long gid) {
        return exists(path);
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        return exists(path);
    }

    @Override
    public int access(String path, int mask) {
        return exists(path);
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        try {
            FileStore fs = Files.getFileStore(tree.upperData());
            long bsize = CloneTree.BLCKSZ;
            stbuf.f_bsize.set(bsize);
            stbuf.f_frsize.set(bsize);
            stbuf.f_blocks.set(fs.getTotalSpace() / bsize);
            stbuf.f_bfree.set(fs.getUnallocatedSpace() / bsize);
            stbuf.f_bavail.set(fs.getUsableSpace() / bsize);
            stbuf.f_namemax.set(255);
            return 0;
        } catch (IOException e) {
            return fail("statfs", path, e);
        }
    }
}
