package org.pageserver.engine;

import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Feeds the tar archives of a base backup, as they stream in, to the importer (Apache Commons
 * Compress reads the ustar, GNU and PAX forms pg_basebackup's server side writes). The data
 * directory's archive holds paths relative to it; a tablespace's archive holds paths relative to
 * the tablespace's location ({@code PG_15_202209061/<db>/<relfilenode>}), which become the paths
 * PostgreSQL sees them at through the link: {@code pg_tblspc/<oid>/PG_15_202209061/...}.
 */
public final class TarFiles {
    private final BaseBackupImport importer;
    private final byte[] buf = new byte[64 << 10];

    public TarFiles(BaseBackupImport importer) {
        this.importer = importer;
    }

    /** The data directory's archive. */
    public void readArchive(String name, InputStream data) throws IOException {
        read(name, data, "");
    }

    /** A tablespace's archive: its files are under pg_tblspc/{@code tablespaceOid}/. */
    public void readTablespaceArchive(String name, int tablespaceOid, InputStream data) throws IOException {
        read(name, data, "pg_tblspc/" + Integer.toUnsignedString(tablespaceOid) + "/");
    }

    /**
     * @throws IOException when {@code data} itself fails (the connection)
     * @throws IllegalStateException when the bytes are not a tar archive
     */
    private void read(String name, InputStream data, String prefix) throws IOException {
        TarArchiveInputStream tar = new TarArchiveInputStream(new NoClose(data));
        TarArchiveEntry e;
        while ((e = next(tar, name)) != null) {
            String path = dataDirectoryPath(e.getName());
            if (path.isEmpty()) {
                continue; // the archive's own top directory ("./")
            }
            if (e.isSymbolicLink()) {
                // a tablespace's link, pg_tblspc/<oid> -> its location; first, because
                // tarCreateHeader names a link to a directory with a trailing slash, which
                // isDirectory() takes for a directory
                if (!prefix.isEmpty()) {
                    throw new IllegalStateException("symbolic link " + e.getName() + " in tablespace archive " + name);
                }
                importer.symlink(path, e.getLinkName());
            } else if (e.isDirectory()) {
                importer.directory(prefix + path);
            } else if (e.isFile()) {
                importer.fileStart(prefix + path, e.getSize());
                int n;
                while ((n = readData(tar, name)) > 0) {
                    importer.fileData(buf, 0, n);
                }
                importer.fileEnd();
            }
        }
    }

    /**
     * An entry's path as the data directory names it: basebackup.c writes some as "./pg_wal/..."
     * and the directory itself as "./"; the store keeps one name per file.
     */
    static String dataDirectoryPath(String name) {
        String p = name;
        while (p.startsWith("./")) {
            p = p.substring(2);
        }
        return p.equals(".") ? "" : p;
    }

    /** The next entry; a header that does not parse is the archive's fault, not the connection's. */
    private static TarArchiveEntry next(TarArchiveInputStream tar, String name) throws IOException {
        try {
            TarArchiveEntry e = tar.getNextEntry();
            // the library reads a header whose checksum is wrong as if it were right
            if (e != null && !e.isCheckSumOK()) {
                throw new IllegalStateException("base backup archive " + name + " is not a valid tar: header of \""
                    + e.getName() + "\" fails its checksum");
            }
            return e;
        } catch (IllegalArgumentException malformedHeader) {
            throw new IllegalStateException("base backup archive " + name + " is not a valid tar: "
                + malformedHeader.getMessage(), malformedHeader);
        } catch (IOException e) {
            throw notATar(e, name);
        }
    }

    /** The current file's next bytes; an archive that ends inside the file is the archive's fault too. */
    private int readData(TarArchiveInputStream tar, String name) throws IOException {
        try {
            return tar.read(buf, 0, buf.length);
        } catch (IOException e) {
            throw notATar(e, name);
        }
    }

    /**
     * The failure of the archive's stream itself (the connection) is returned to be rethrown as
     * it was; any other IOException is the library's verdict on the bytes (corrupt, truncated,
     * a bad PAX or sparse header, a negative size...) and becomes IllegalStateException.
     */
    private static IOException notATar(IOException e, String name) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SourceFailure f) {
                return f.original();
            }
        }
        throw new IllegalStateException("base backup archive " + name + " is not a valid tar: " + e.getMessage(), e);
    }

    /** An IOException of the archive's stream, marked so that it is not taken for the archive's fault. */
    private static final class SourceFailure extends IOException {
        SourceFailure(IOException original) {
            super(original.getMessage(), original);
        }

        IOException original() {
            return (IOException) getCause();
        }
    }

    /**
     * The archive's stream belongs to the connection: closing the tar reader must not close it,
     * and its failures are marked as its own ({@link SourceFailure}).
     */
    private static final class NoClose extends java.io.FilterInputStream {
        NoClose(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return super.skip(n);
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }

        @Override
        public int available() throws IOException {
            try {
                return super.available();
            } catch (IOException e) {
                throw new SourceFailure(e);
            }
        }

        @Override
        public void close() {
        }
    }
}
