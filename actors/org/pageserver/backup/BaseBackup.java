package org.pageserver.backup;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.page.PageChecksum;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.wal.TimeLineHistory;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.XLogPageHeader;
import org.pageserver.redo.RedoException;
import org.pageserver.storage.BelowHorizonException;
import org.pageserver.storage.Horizon;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.PageVersions;
import org.pageserver.storage.StorageException;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.engine.PageRebuild;

/**
 * A data directory as of an LSN L the pageserver holds, as one tar, on which a stock PostgreSQL
 * 15 starts at once, with nothing to replay, at exactly L: every record ending at or before L
 * applied, nothing later. Plain Java (no Pekko): {@link #prepare} checks the request and
 * computes pg_control before any byte; {@link #writeTo} streams the tar with bounded memory
 * (a few chunks of pages at a time, see writeFork). Both block on the store: run them on a blocking thread.
 *
 * <p>A full backup holds, in this order:
 * <ol>
 *   <li>the directories a server expects ({@link DataDirectoryLayout#DIRECTORIES}), and every
 *       database and tablespace directory that exists at L;</li>
 *   <li>the non-relation files the store holds as of L: PG_VERSION and pg_filenode.map of each
 *       database and of global/, the configuration files (postgresql.conf,
 *       postgresql.auto.conf, pg_hba.conf, pg_ident.conf), {@code pg_twophase/<XID>} of each
 *       transaction prepared and not finished at L (the ingest writes them from the PREPARE
 *       record), and whatever else the imported backup had, less what must not be carried
 *       over ({@link DataDirectoryLayout#carriedOver});</li>
 *   <li>the SLRU segments as of L from their pseudo-relations ({@link SlruSegments});</li>
 *   <li>every fork of every relation that exists at L, each block rebuilt as of L (the
 *       rebuild GetPage@LSN does), in 1 GB segment files named as PostgreSQL names them, with
 *       data checksums set when the cluster has them. Unlogged relations get their init fork
 *       and a main fork that is a copy of it, what ResetUnloggedRelations makes (PostgreSQL
 *       does not reset them after a clean shutdown), and nothing else;</li>
 *   <li>{@code pg_wal/<N+1>.history} and {@code pg_wal/<segment>}: the segment after L's,
 *       holding only a shutdown checkpoint record, on a new timeline N+1 forked from the
 *       primary's N at the start of that segment ({@link ShutdownState});</li>
 *   <li>global/pg_control, last: "shut down" at that record. A cut-off tar never starts.</li>
 * </ol>
 *
 * <p>A {@code minimal} backup is the same without item 4, for a compute node that has no
 * relation files and reads every page from the pageserver: the directories (a server refuses
 * to start without them), PG_VERSION files (checked at start, and per database at connection),
 * the configuration, the relation maps (pg_filenode.map: which relfilenode the mapped catalogs
 * such as pg_class have, read before any catalog), pg_twophase (prepared transactions are
 * restored from there at start), the SLRUs (transaction status, multixacts and commit
 * timestamps are read from local files, not through the storage manager), the WAL segment
 * and pg_control (what makes the server start at L without replay).
 *
 * <p>A {@code standby} backup is a minimal one for a compute that goes on following the
 * primary: no WAL and no history file, and the pg_control of a standby shut down in recovery
 * at L on the primary's timeline ({@link StandbyState}), whose walreceiver streams the
 * primary's WAL from the redo pointer of the primary's last checkpoint at or before L.
 */
public final class BaseBackup {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BaseBackup.class);
    static final int BLCKSZ = RelFileName.BLCKSZ;
    static final int FILE_MODE = 0600;
    static final int DIR_MODE = 040700;
    /** Blocks rebuilt per task: one store iterator each, 1 MB of pages. */
    static final int CHUNK_BLOCKS = 128;
    /** Threads rebuilding blocks, shared by every backup of the process: one per core. */
    static final int REBUILD_THREADS = Runtime.getRuntime().availableProcessors();
    /** Chunks a backup has submitted and not written yet: enough to keep every rebuilder busy. */
    static final int CHUNKS_IN_FLIGHT = 2 * REBUILD_THREADS;
    private static final ExecutorService REBUILDERS = Executors.newFixedThreadPool(REBUILD_THREADS, r -> {
        Thread t = new Thread(r, "basebackup-rebuild");
        t.setDaemon(true);
        return t;
    });
    /** A large backup says how far it is in the log about this often (after the file that crosses it). */
    static final long PROGRESS_LOG_BYTES = 1L << 30;

    private final TenantStore store;
    private final TenantMeta meta;
    private final Lsn lsn;
    private final boolean minimal;
    private final ShutdownState shutdown;
    /** Null but for a standby backup. */
    private final StandbyState standby;
    private final long now;
    private final AtomicLong bytesWritten = new AtomicLong();
    /** Built while the tar is written; its text once {@link #writeTo} returned. */
    private final BackupManifest manifest = new BackupManifest();
    private volatile byte[] manifestBytes;

    private BaseBackup(TenantStore store, TenantMeta meta, Lsn lsn, boolean minimal, ShutdownState shutdown,
                       StandbyState standby, long now) {
        this.store = store;
        this.meta = meta;
        this.lsn = lsn;
        this.minimal = minimal;
        this.shutdown = shutdown;
        this.standby = standby;
        this.now = now;
    }

    /**
     * Parses the LSN argument of a request: {@code latest} (any case) or PostgreSQL's
     * {@code X/X} text form.
     *
     * @return the LSN, or null for the latest
     * @throws BaseBackupException 22P02 for anything else
     */
    public static Lsn parseLsn(String text) {
        if (text.equalsIgnoreCase("latest")) {
            return null;
        }
        try {
            return Lsn.parse(text);
        } catch (IllegalArgumentException e) {
            throw new BaseBackupException(SqlState.INVALID_TEXT_REPRESENTATION,
                "invalid LSN \"" + text + "\": expected latest or X/X (hexadecimal)");
        }
    }

    /**
     * Checks a request and computes the backup's pg_control; nothing is written yet.
     *
     * @param lsn     the LSN, or null for the latest the store holds (its durable LSN)
     * @param minimal no relation data (see the class comment)
     * @throws BaseBackupException 22023 for LSN 0/0 or an LSN below the consistent point,
     *                             55000 for one beyond the WAL received, XX001 for a store
     *                             missing what a backup needs, XX000 when the store fails
     */
    public static BaseBackup prepare(TenantStore store, Lsn lsn, boolean minimal) {
        return prepare(store, lsn, minimal, false);
    }

    /**
     * A standby backup (see the class comment), checked as {@link #prepare}; also 55000 when
     * the WAL from the redo pointer of the last checkpoint at or before L is not kept.
     */
    public static BaseBackup prepareStandby(TenantStore store, Lsn lsn) {
        return prepare(store, lsn, true, true);
    }

    private static BaseBackup prepare(TenantStore store, Lsn lsn, boolean minimal, boolean standby) {
        try {
            TenantMeta meta = store.meta().orElseThrow(() -> new BaseBackupException(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
                "the tenant has no base backup imported yet"));
            Lsn durable = store.durableLsn();
            Lsn at = lsn == null ? durable : lsn;
            if (!at.isValid()) {
                throw new BaseBackupException(SqlState.INVALID_PARAMETER_VALUE, "LSN 0/0 is not a WAL position");
            }
            if (at.isBefore(meta.consistentLsn())) {
                throw new BaseBackupException(SqlState.INVALID_PARAMETER_VALUE, "LSN " + at
                    + " is below the consistent point " + meta.consistentLsn() + " of tenant " + meta.systemId());
            }
            if (at.isAfter(durable)) {
                throw new BaseBackupException(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "LSN " + at
                    + " is beyond the WAL the pageserver has stored for tenant " + meta.systemId() + " (up to "
                    + durable + ")");
            }
            store.checkHorizon(at);
            long now = System.currentTimeMillis() / 1000;
            return new BaseBackup(store, meta, at, minimal, ShutdownState.at(store, meta, at, now),
                standby ? StandbyState.at(store, meta, at, now) : null, now);
        } catch (BelowHorizonException e) {
            throw new BaseBackupException(SqlState.INVALID_PARAMETER_VALUE, e.getMessage());
        } catch (StorageException e) {
            throw new BaseBackupException(SqlState.INTERNAL_ERROR, "cannot read the tenant store: " + e.getMessage(), e);
        }
    }

    /** The LSN the backup is as of. */
    public Lsn lsn() {
        return lsn;
    }

    public boolean minimal() {
        return minimal;
    }

    public boolean standby() {
        return standby != null;
    }

    /** pg_control as the backup holds it (what the {@code controlfile} command prints). */
    public ControlFile controlFile() {
        return standby != null ? standby.controlFile() : shutdown.controlFile();
    }

    /** Where the WAL of the backup starts: its shutdown checkpoint record (the redo pointer of its pg_control). */
    public Lsn walStart() {
        return shutdown.wal().recordLsn();
    }

    /** Where the backup's WAL segment starts (the segment after L's). */
    public Lsn walSegmentStart() {
        return shutdown.wal().segmentStart();
    }

    /**
     * The first page of the backup's WAL segment as the tar holds it: the long page header and
     * the shutdown checkpoint record; the rest of the segment is zeros.
     */
    public byte[] walFirstPage() {
        return shutdown.wal().firstPage(shutdown.checkPoint());
    }

    /**
     * The history file of the backup's timeline, forked from the primary's at
     * {@link #walSegmentStart()}; a standby backup, on the primary's timeline, holds none.
     */
    public TimeLineHistory timeLineHistory() {
        return shutdown.history();
    }

    /** Where the WAL of the backup ends: the end of that record. */
    public Lsn walEnd() {
        return walStart().plus(org.pageserver.protocol.wal.ShutdownCheckpointWal.RECORD_LENGTH);
    }

    /**
     * The backup_manifest of the tar written (PostgreSQL's format: every regular file with its
     * size and CRC32C, the WAL range), for pg_basebackup and pg_verifybackup.
     *
     * @throws IllegalStateException before {@link #writeTo} has finished
     */
    public byte[] manifest() {
        byte[] m = manifestBytes;
        if (m == null) {
            throw new IllegalStateException("the backup manifest exists once the tar is written");
        }
        return m;
    }

    /** Bytes of tar written so far (for progress reports; any thread may read it). */
    public long bytesWritten() {
        return bytesWritten.get();
    }

    /**
     * Streams the tar to {@code out} (not closed; flushed at the end).
     *
     * @throws BaseBackupException 0A000 naming the relation and block when a page cannot be
     *                             rebuilt (redo not supported yet), XX000 when the store fails;
     *                             global/pg_control has not been written then
     * @throws IOException         when {@code out} fails
     */
    public void writeTo(OutputStream out) throws IOException {
        long started = System.nanoTime();
        CountingStream counting = new CountingStream(out, bytesWritten);
        BufferedOutputStream buffered = new BufferedOutputStream(counting, 1 << 16);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(buffered);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        // the horizon cannot pass the backup's LSN while it is written
        try (Horizon.Pin pin = store.pin(lsn)) {
            Tar t = new Tar(tar);
            for (String d : DataDirectoryLayout.DIRECTORIES) {
                t.directory(d);
            }
            int files = 0;
            for (String path : store.files(lsn)) {
                if (!DataDirectoryLayout.carriedOver(path)) {
                    continue;
                }
                if (path.endsWith("/")) {
                    t.directory(path.substring(0, path.length() - 1));
                } else {
                    byte[] content = store.file(path, lsn).orElse(null);
                    if (content != null) {
                        t.file(path, content);
                        files++;
                    }
                }
            }
            long filesDone = System.nanoTime();
            List<SlruSegments.Segment> slru = SlruSegments.of(shutdown.checkPoint(),
                kind -> store.relSize(kind.rel(), lsn), this::slruPage);
            for (SlruSegments.Segment s : slru) {
                t.begin(s.path(), (long) s.pages() * BLCKSZ);
                for (int p = 0; p < s.pages(); p++) {
                    t.write(slruPage(s.kind(), s.firstPage() + p));
                }
                t.end();
            }
            long slruDone = System.nanoTime();
            long blocks = minimal ? 0 : writeRelations(t);
            if (standby == null) {
                t.file("pg_wal/" + shutdown.history().fileName(), shutdown.history().bytes());
                byte[] firstPage = walFirstPage();
                t.begin("pg_wal/" + shutdown.wal().fileName(), meta.walSegSize());
                t.write(firstPage);
                byte[] zeros = new byte[XLogPageHeader.XLOG_BLCKSZ];
                for (long n = firstPage.length; n < meta.walSegSize(); n += zeros.length) {
                    t.write(zeros);
                }
                t.end();
            }
            t.file("global/pg_control", controlFile().write());
            tar.finish();
            manifestBytes = manifest.finish(shutdown.controlFile().checkPointCopy().thisTimeLineId(), walStart(), walEnd());
            buffered.flush();
            LOG.info("base backup of tenant {} at {}{}: {} files, {} SLRU segments, {} relation blocks, {} bytes in {} ms"
                    + " (files {} ms, SLRU segments {} ms)", meta.systemId(), lsn,
                standby != null ? " (standby)" : minimal ? " (minimal)" : "", files, slru.size(), blocks,
                bytesWritten.get(), (System.nanoTime() - started) / 1_000_000, (filesDone - started) / 1_000_000,
                (slruDone - filesDone) / 1_000_000);
        } catch (BelowHorizonException e) {
            throw new BaseBackupException(SqlState.INVALID_PARAMETER_VALUE, e.getMessage());
        } catch (StorageException e) {
            throw new BaseBackupException(SqlState.INTERNAL_ERROR, "cannot read the tenant store: " + e.getMessage(), e);
        }
    }

    /** Every fork of every relation at L, segment by segment; returns the blocks written. */
    private long writeRelations(Tar t) throws IOException {
        TreeMap<RelTag, Integer> relations = store.relations(lsn);
        Set<RelTag> unlogged = new HashSet<>();
        for (RelTag r : relations.keySet()) {
            if (r.fork() == ForkNumber.INIT) {
                unlogged.add(r.withFork(ForkNumber.MAIN));
            }
        }
        long blocks = 0;
        for (Map.Entry<RelTag, Integer> e : relations.entrySet()) {
            RelTag rel = e.getKey();
            if (rel.spcNode() == 0) {
                continue; // an SLRU's pseudo-relation (SlruKind): written as its segment files
            }
            boolean isUnlogged = unlogged.contains(rel.withFork(ForkNumber.MAIN));
            if (isUnlogged && rel.fork() != ForkNumber.INIT) {
                continue; // its main fork is written as a copy of the init fork, its others not at all
            }
            long n = Integer.toUnsignedLong(e.getValue());
            blocks += writeFork(t, rel, rel, n);
            if (isUnlogged) {
                blocks += writeFork(t, rel, rel.withFork(ForkNumber.MAIN), n);
            }
        }
        return blocks;
    }

    /**
     * Writes {@code n} blocks of {@code source} as the files of fork {@code as}. The blocks are
     * rebuilt in chunks on {@link #REBUILDERS}, each chunk with one store iterator moving
     * forward ({@link PageVersions}), and written in block order; at most
     * {@link #CHUNKS_IN_FLIGHT} chunks are held at once, so memory stays bounded whatever the
     * relation's size.
     */
    private long writeFork(Tar t, RelTag source, RelTag as, long n) throws IOException {
        boolean checksums = shutdown.controlFile().dataChecksumVersion() != 0;
        if (n == 0) {
            t.begin(as.path(), 0);
            t.end();
            return 0;
        }
        ArrayDeque<Future<byte[][]>> inFlight = new ArrayDeque<>();
        long next = 0;
        long written = 0;
        try {
            while (written < n) {
                while (next < n && inFlight.size() < CHUNKS_IN_FLIGHT) {
                    long from = next;
                    int count = (int) Math.min(CHUNK_BLOCKS, n - from);
                    inFlight.add(REBUILDERS.submit(() -> rebuildChunk(source, from, count, checksums)));
                    next += count;
                }
                for (byte[] page : await(inFlight.poll())) {
                    if (written % RelFileName.RELSEG_SIZE == 0) {
                        if (written > 0) {
                            t.end();
                        }
                        long seg = written / RelFileName.RELSEG_SIZE;
                        t.begin(as.path() + (seg == 0 ? "" : "." + seg),
                            Math.min(RelFileName.RELSEG_SIZE, n - written) * BLCKSZ);
                    }
                    t.write(page);
                    written++;
                }
            }
            t.end();
        } finally {
            for (Future<byte[][]> f : inFlight) {
                f.cancel(false);
            }
        }
        return n;
    }

    /** Blocks [from, from + count) of {@code rel} as of L, checksummed when the cluster has checksums. */
    private byte[][] rebuildChunk(RelTag rel, long from, int count, boolean checksums) {
        byte[][] pages = new byte[count][];
        try (PageVersions versions = store.pageVersions(lsn)) {
            for (int i = 0; i < count; i++) {
                int blkno = (int) (from + i);
                byte[] page = relationPage(versions.history(rel, blkno), rel, blkno);
                if (checksums) {
                    PageChecksum.set(page, blkno);
                }
                pages[i] = page;
            }
        }
        return pages;
    }

    private static byte[][] await(Future<byte[][]> chunk) throws IOException {
        try {
            return chunk.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("base backup interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    private byte[] relationPage(PageHistory h, RelTag rel, int blkno) {
        if (h.isEmpty()) {
            return new byte[BLCKSZ]; // never written: zeros, as PostgreSQL reads a page past a hole
        }
        try {
            return PageRebuild.rebuild(h, new BufferTag(rel, blkno), meta.hintsLogged());
        } catch (RedoException | WalDecodeException | IllegalStateException e) {
            throw new BaseBackupException(SqlState.FEATURE_NOT_SUPPORTED, "cannot rebuild block " + Integer.toUnsignedString(blkno)
                + " of relation " + rel + " (" + rel.path() + ") as of " + lsn + ": " + e.getMessage(), e);
        }
    }

    private byte[] slruPage(SlruKind kind, int pageno) {
        PageHistory h = store.pageHistory(kind.rel(), pageno, lsn);
        if (h.isEmpty()) {
            return new byte[BLCKSZ];
        }
        try {
            return PageRebuild.rebuild(h, new BufferTag(kind.rel(), pageno), meta.hintsLogged());
        } catch (RedoException | WalDecodeException | IllegalStateException e) {
            throw new BaseBackupException(SqlState.DATA_CORRUPTED, "cannot rebuild page " + pageno + " of " + kind.dir
                + " as of " + lsn + ": " + e.getMessage(), e);
        }
    }

    /** The tar being written: entries with PostgreSQL's modes, parent directories before their files. */
    private final class Tar {
        private final TarArchiveOutputStream tar;
        private final Set<String> directories = new HashSet<>();
        private long nextProgressLog = PROGRESS_LOG_BYTES;
        /** The entry being written: its path, size and the CRC32C of its content so far (for the manifest). */
        private String entryPath;
        private long entrySize;
        private final java.util.zip.CRC32C entryCrc = new java.util.zip.CRC32C();

        Tar(TarArchiveOutputStream tar) {
            this.tar = tar;
        }

        void directory(String path) throws IOException {
            if (path.isEmpty() || !directories.add(path)) {
                return;
            }
            parents(path);
            TarArchiveEntry e = new TarArchiveEntry(path + "/");
            e.setMode(DIR_MODE);
            e.setModTime(now * 1000);
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
        }

        private void parents(String path) throws IOException {
            int slash = path.lastIndexOf('/');
            if (slash > 0) {
                directory(path.substring(0, slash));
            }
        }

        void begin(String path, long size) throws IOException {
            parents(path);
            TarArchiveEntry e = new TarArchiveEntry(path);
            e.setSize(size);
            e.setMode(FILE_MODE);
            e.setModTime(now * 1000);
            tar.putArchiveEntry(e);
            entryPath = path;
            entrySize = size;
            entryCrc.reset();
        }

        /** Content of the entry begun. */
        void write(byte[] b) throws IOException {
            tar.write(b);
            entryCrc.update(b);
        }

        void end() throws IOException {
            tar.closeArchiveEntry();
            manifest.addFile(entryPath, entrySize, now, (int) entryCrc.getValue());
            long written = bytesWritten.get();
            if (written >= nextProgressLog) {
                LOG.info("base backup of tenant {} at {}: {} MB written", meta.systemId(), lsn, written >> 20);
                nextProgressLog = written + PROGRESS_LOG_BYTES;
            }
        }

        void file(String path, byte[] content) throws IOException {
            begin(path, content.length);
            write(content);
            end();
        }
    }

    /** Counts what reaches the caller's stream. */
    private static final class CountingStream extends java.io.FilterOutputStream {
        private final AtomicLong count;

        CountingStream(OutputStream out, AtomicLong count) {
            super(out);
            this.count = count;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count.addAndGet(len);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count.incrementAndGet();
        }
    }
}
