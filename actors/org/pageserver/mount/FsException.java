package org.pageserver.mount;

/** A filesystem operation refused with an errno (positive, as in errno.h): what FUSE answers. */
public final class FsException extends Exception {
    public static final int ENOENT = 2;
    public static final int EIO = 5;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENOTEMPTY = 39;

    private final int errno;

    public FsException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public FsException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
