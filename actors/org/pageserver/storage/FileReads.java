package org.pageserver.storage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import org.pageserver.protocol.Lsn;
import org.rocksdb.RocksIterator;

/**
 * Reads of the {@code file} and {@code wal} families: what a data directory holds besides
 * relation pages (non-relation files, symbolic links, tablespaces) and the raw WAL, as a base
 * backup and a walsender ship them. Only the walks over the keys: {@link TenantStore}, which
 * publishes these reads, holds the store open and checks the retention horizon around them.
 */
final class FileReads {
    /**
     * A file version's value is its kind, then its content: FILE_REGULAR (so that an empty file
     * differs from a removed one, whose value is empty) or FILE_SYMLINK (the content is the
     * link's target). Stores written before symlinks existed hold only FILE_REGULAR.
     */
    static final byte FILE_REGULAR = 1;
    static final byte FILE_SYMLINK = 2;

    private final StoreDb db;

    /** A file version's value: {@code kind}, then {@code content}. */
    static byte[] value(byte kind, byte[] content) {
        byte[] v = new byte[content.length + 1];
        v[0] = kind;
        System.arraycopy(content, 0, v, 1, content.length);
        return v;
    }

    FileReads(StoreDb db) {
        this.db = db;
    }

    Optional<byte[]> file(String path, Lsn lsn) {
        return version(path, lsn, FILE_REGULAR);
    }

    /** The content of the newest version of {@code path} at or before {@code lsn}, if it is of {@code kind}. */
    private Optional<byte[]> version(String path, Lsn lsn, byte kind) {
        byte[] prefix = Keys.filePrefix(path);
        try (RocksIterator it = db.db.newIterator(db.file)) {
            it.seekForPrev(Keys.file(path, lsn.value()));
            if (it.isValid() && Keys.hasPrefix(it.key(), prefix) && it.key().length == prefix.length + 8) {
                byte[] v = it.value();
                if (v.length == 0 || v[0] != kind) {
                    return Optional.empty();
                }
                byte[] content = new byte[v.length - 1];
                System.arraycopy(v, 1, content, 0, content.length);
                return Optional.of(content);
            }
            db.checkIterator(it);
        }
        return Optional.empty();
    }

    Optional<String> symlink(String path, Lsn lsn) {
        return version(path, lsn, FILE_SYMLINK).map(t -> new String(t, StandardCharsets.UTF_8));
    }

    List<String> files(Lsn lsn) {
        return new ArrayList<>(versions(lsn, FILE_REGULAR).keySet());
    }

    TreeMap<String, String> symlinks(Lsn lsn) {
        TreeMap<String, String> out = new TreeMap<>();
        versions(lsn, FILE_SYMLINK).forEach((path, v) ->
            out.put(path, new String(v, 1, v.length - 1, StandardCharsets.UTF_8)));
        return out;
    }

    /** The links under {@link TenantStore#TABLESPACE_LINK_DIR} whose name is an OID: OID to target. */
    TreeMap<Integer, String> tablespaces(Lsn lsn) {
        TreeMap<Integer, String> out = new TreeMap<>(Integer::compareUnsigned);
        symlinks(lsn).forEach((path, target) -> {
            Integer oid = TenantStore.tablespaceOid(path);
            if (oid != null) {
                out.put(oid, target);
            }
        });
        return out;
    }

    /**
     * The newest version at or before {@code lsn} of every path whose newest version is of
     * {@code kind}, as stored (the kind byte first).
     */
    private TreeMap<String, byte[]> versions(Lsn lsn, byte kind) {
        TreeMap<String, byte[]> out = new TreeMap<>();
        try (RocksIterator it = db.db.newIterator(db.file)) {
            it.seekToFirst();
            String current = null;
            byte[] version = null;
            while (it.isValid()) {
                byte[] k = it.key();
                String path = Keys.filePathOf(k);
                if (!path.equals(current)) {
                    if (current != null && version != null && version.length > 0 && version[0] == kind) {
                        out.put(current, version);
                    }
                    current = path;
                    version = null;
                }
                if (Long.compareUnsigned(Keys.fileLsnOf(k), lsn.value()) <= 0) {
                    version = it.value();
                }
                it.next();
            }
            if (current != null && version != null && version.length > 0 && version[0] == kind) {
                out.put(current, version);
            }
            db.checkIterator(it);
        }
        return out;
    }

    void readWal(Lsn from, Lsn to, TenantStore.WalSink sink) {
        try (RocksIterator it = db.db.newIterator(db.wal)) {
            it.seekForPrev(Keys.wal(from.value()));
            if (!it.isValid()) {
                it.seekToFirst();
                if (it.isValid() && Long.compareUnsigned(Keys.walLsnOf(it.key()), from.value()) > 0
                    && Long.compareUnsigned(from.value(), to.value()) < 0) {
                    // the retention removed it meanwhile (callers check walStart first): never a gap
                    throw new StorageException("the raw WAL from " + from + " is no longer kept (it starts at "
                        + new Lsn(Keys.walLsnOf(it.key())) + ")");
                }
            }
            while (it.isValid()) {
                long start = Keys.walLsnOf(it.key());
                if (Long.compareUnsigned(start, to.value()) >= 0) {
                    break;
                }
                byte[] v = it.value();
                long end = start + v.length;
                if (Long.compareUnsigned(end, from.value()) > 0) {
                    long s = Math.max(start, from.value());
                    long e = Math.min(end, to.value());
                    sink.accept(new Lsn(s), v, (int) (s - start), (int) (e - s));
                }
                it.next();
            }
            db.checkIterator(it);
        }
    }

    Lsn walStart() {
        try (RocksIterator it = db.db.newIterator(db.wal)) {
            it.seekToFirst();
            return it.isValid() ? new Lsn(Keys.walLsnOf(it.key())) : Lsn.INVALID;
        }
    }
}
