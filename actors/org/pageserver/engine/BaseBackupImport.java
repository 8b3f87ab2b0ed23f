package org.pageserver.engine;

import java.io.ByteArrayOutputStream;
import java.util.HashMap;
import java.util.Map;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/**
 * Imports the files of a base backup into a tenant store as they stream in: every block of
 * every relation file becomes a base image at the backup's start LSN (the checkpoint's redo
 * pointer), relation sizes are recorded there too, and every other file (pg_control, SLRU
 * segments, relation maps, PG_VERSION, ...) is kept as a file version at that LSN. The pages of
 * SLRU segments are also base images of their SLRU's pseudo-relation (SlruKind: block =
 * segment * 32 + page in the file), whose size is its highest page + 1.
 *
 * <p>Base images are keyed at the start LSN, not at their own pd_lsn: a backup is fuzzy, so a
 * page may already contain changes of later records; redo skips those (page LSN at or past the
 * record's), which is exactly PostgreSQL's rule when it recovers from a base backup.
 *
 * <p>Blocking (it writes to the store): runs on the blocking dispatcher.
 */
public final class BaseBackupImport {
    static final int BLCKSZ = 8192;
    /** Largest non-relation file held in memory while it streams in. */
    static final int MAX_FILE_SIZE = 256 << 20;
    /**
     * What a file's buffer starts at: it grows with the bytes that arrive, not to the size its
     * tar header declares, which costs a stranger 512 bytes to say.
     */
    static final int INITIAL_CONTENT_BUFFER = 64 << 10;
    private static final long BATCH_BYTES = 16L << 20;

    private final TenantStore store;
    private final SystemId expectedSystemId;
    private Lsn startLsn;
    private StoreBatch batch;

    private final Map<RelTag, Long> relBlocks = new HashMap<>();
    private ControlFile controlFile;

    // the file being received
    private String path;
    private RelFileName relFile;
    private long blkno;
    private final byte[] block = new byte[BLCKSZ];
    private int blockFill;
    private ByteArrayOutputStream content;
    private long imported;

    public BaseBackupImport(TenantStore store, SystemId expectedSystemId) {
        this.store = store;
        this.expectedSystemId = expectedSystemId;
    }

    /** The backup's start position arrives before any file. */
    public void start(Lsn start) {
        this.startLsn = start;
        this.batch = store.newBatch();
    }

    void directory(String dirPath) {
        requireStarted();
        batch.putFile(stripSlash(dirPath) + "/", startLsn, new byte[0]);
    }

    /** A symbolic link: PostgreSQL's data directory has them only for tablespaces (pg_tblspc/&lt;oid&gt;). */
    void symlink(String linkPath, String target) {
        requireStarted();
        String p = stripSlash(linkPath);
        if (TenantStore.tablespaceOid(p) == null) {
            throw new IllegalStateException("symbolic link " + linkPath + " -> " + target
                + " in the base backup: only pg_tblspc/<oid> links are expected");
        }
        batch.putSymlink(p, startLsn, target);
    }

    void fileStart(String filePath, long size) {
        requireStarted();
        path = filePath;
        relFile = RelFileName.parse(filePath);
        SlruKind.SegmentFile slru = SlruKind.parseSegment(filePath);
        if (slru != null) {
            // an SLRU segment: its pages become blocks of the SLRU's pseudo-relation, and the
            // file is kept as a file version too (at most 32 pages)
            relFile = new RelFileName(slru.kind().rel(), 0);
            content = new ByteArrayOutputStream((int) Math.min(size, INITIAL_CONTENT_BUFFER));
        }
        if (relFile != null) {
            if (size % BLCKSZ != 0) {
                throw new IllegalStateException("relation file " + filePath + " in the base backup has " + size
                    + " bytes, not a whole number of " + BLCKSZ + "-byte blocks");
            }
            blkno = slru != null ? slru.firstPage() : relFile.firstBlock();
            blockFill = 0;
            relBlocks.merge(relFile.rel(), blkno + size / BLCKSZ, Math::max);
        } else {
            if (size > MAX_FILE_SIZE) {
                throw new IllegalStateException("file " + filePath + " in the base backup is too large (" + size + " bytes)");
            }
            content = new ByteArrayOutputStream((int) Math.min(size, INITIAL_CONTENT_BUFFER));
        }
    }

    void fileData(byte[] buf, int off, int len) {
        if (content != null) {
            content.write(buf, off, len);
        }
        if (relFile == null) {
            return;
        }
        while (len > 0) {
            int n = Math.min(len, BLCKSZ - blockFill);
            System.arraycopy(buf, off, block, blockFill, n);
            blockFill += n;
            off += n;
            len -= n;
            if (blockFill == BLCKSZ) {
                batch.putImage(relFile.rel(), (int) blkno, startLsn, block.clone());
                blkno++;
                blockFill = 0;
                imported += BLCKSZ;
                commitIfLarge();
            }
        }
    }

    void fileEnd() {
        if (relFile == null) {
            byte[] bytes = content.toByteArray();
            if (path.equals("global/pg_control")) {
                controlFile = ControlFile.parse(bytes);
                if (controlFile.systemIdentifier() != expectedSystemId.value()) {
                    throw new IllegalStateException("pg_control of the backup has system_id "
                        + Long.toUnsignedString(controlFile.systemIdentifier()) + ", the primary said " + expectedSystemId);
                }
            }
            batch.putFile(path, startLsn, bytes);
            imported += bytes.length;
            content = null;
            commitIfLarge();
        } else if (blockFill != 0) {
            throw new IllegalStateException("relation file " + path + " ended inside a block");
        } else if (content != null) {
            batch.putFile(path, startLsn, content.toByteArray()); // an SLRU segment
            content = null;
        }
        path = null;
        relFile = null;
    }

    /** Writes the relation sizes and the last batch. Returns pg_control as the backup had it. */
    public ControlFile finish() {
        requireStarted();
        if (controlFile == null) {
            throw new IllegalStateException("the base backup has no global/pg_control");
        }
        for (Map.Entry<RelTag, Long> e : relBlocks.entrySet()) {
            batch.putRelSize(e.getKey(), startLsn, (int) (long) e.getValue());
        }
        batch.commit();
        batch.close();
        batch = null;
        return controlFile;
    }

    /** Releases the open batch after a failure, so the store can be closed. */
    public void abort() {
        if (batch != null) {
            batch.close();
            batch = null;
        }
    }

    public long importedBytes() {
        return imported;
    }

    int relationCount() {
        return relBlocks.size();
    }

    private void commitIfLarge() {
        if (batch.sizeBytes() >= BATCH_BYTES) {
            batch.commit();
            batch.close();
            batch = store.newBatch();
        }
    }

    private void requireStarted() {
        if (startLsn == null) {
            throw new IllegalStateException("base backup data before its start position");
        }
    }

    private static String stripSlash(String p) {
        return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
}
