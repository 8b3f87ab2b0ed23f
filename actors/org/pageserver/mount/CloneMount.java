package org.pageserver.mount;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFile;

/**
 * A clone mounted: makes or resumes the upper directory, builds the lower layer, mounts the
 * filesystem. When {@link #open} returns, {@code postgres -D <mount point>} can start.
 *
 * <p>Making a clone (empty upper directory): resolve the LSN ({@code latest}: the tenant's
 * durable LSN, fixed from then on), list the relations as of it (which also checks the tenant
 * and the LSN before anything is written), unpack the minimal base backup as of it into
 * {@code data/} (its standby form and {@link StandbyConfig} for a standby), and write the
 * {@link CloneState} last. Resuming (the state file is there):
 * the recorded tenant and LSN are used; asking for another LSN or tenant is an error. An
 * upper directory with files but no state file is refused: it is not a clone's, or its
 * making was cut short (remove it and mount again).
 */
public final class CloneMount implements AutoCloseable {
    /** How long a read waits for the pageserver to come back before the compute gets EIO. */
    static final Duration RECONNECT_FOR = Duration.ofSeconds(60);

    /**
     * What the command asks for. {@code lsn} null: the latest. {@code primaryConninfo}: a
     * standby clone following the pageserver there (see {@link StandbyConfig}); null: a
     * writable clone.
     */
    public record Request(String url, Properties connection, SystemId systemId, Lsn lsn, Path upper, Path mountPoint,
                          int uid, int gid, String primaryConninfo) {
        boolean standby() {
            return primaryConninfo != null;
        }
    }

    /** A request that cannot be served: the message says why. */
    public static final class CloneException extends Exception {
        public CloneException(String message) {
            super(message);
        }
    }

    private final CloneState state;
    private final boolean resumed;
    private final String timings;
    private final CloneTree tree;
    private final PageServerSource source;
    private final CloneFileSystem fs;
    private final LowerLayer lower;
    private final LsnPin pin;

    private CloneMount(CloneState state, boolean resumed, String timings, CloneTree tree, PageServerSource source,
                       CloneFileSystem fs, LowerLayer lower, LsnPin pin) {
        this.state = state;
        this.resumed = resumed;
        this.timings = timings;
        this.tree = tree;
        this.source = source;
        this.fs = fs;
        this.lower = lower;
        this.pin = pin;
    }

    public static CloneMount open(Request r, PrintStream log) throws IOException, SQLException, CloneException {
        checkMountPoint(r.mountPoint());
        Files.createDirectories(r.upper());
        CloneState recorded = CloneState.read(r.upper()).orElse(null);
        if (recorded != null) {
            if (!recorded.systemId().equals(r.systemId())) {
                throw new CloneException("upper directory " + r.upper() + " is a clone of system_id " + recorded.systemId()
                    + ", not " + r.systemId());
            }
            if (recorded.standby() != r.standby()) {
                throw new CloneException("upper directory " + r.upper() + " is " + (recorded.standby() ? "a standby clone"
                    : "a writable clone") + "; mount it " + (recorded.standby() ? "with" : "without") + " --standby");
            }
            if (r.lsn() != null && !r.lsn().equals(recorded.lsn())) {
                throw new CloneException("upper directory " + r.upper() + " is a clone at LSN " + recorded.lsn()
                    + "; it cannot be mounted at " + r.lsn() + " (use --lsn " + recorded.lsn()
                    + " or --latest to resume it, or another upper directory)");
            }
        } else if (!isEmpty(r.upper())) {
            throw new CloneException("upper directory " + r.upper() + " is not empty and holds no " + CloneState.FILE
                + ": not a clone's upper directory (or its making was cut short; remove it and mount again)");
        }
        long t0 = System.nanoTime();
        // the FUSE binding's one-time native set-up (libfuse loaded, a callback stub generated
        // per operation) is done while the pageserver answers
        long[] warmUpNanos = new long[1];
        CompletableFuture<CloneFileSystem> warmUp = CompletableFuture.supplyAsync(() -> {
            CloneFileSystem unused = new CloneFileSystem(null, r.uid(), r.gid(), log);
            warmUpNanos[0] = System.nanoTime() - t0;
            return unused;
        }, CloneMount::onItsOwnThread);
        CloneState state;
        Map<RelTag, Integer> relations;
        long listingMillis;
        long backupMillis = 0;
        // the clone's LSN pinned against retention, on a connection of its own, while the rest
        // is fetched (a base backup pins its LSN itself while it runs)
        CompletableFuture<LsnPin> pinning = null;
        try {
            if (recorded != null) {
                state = recorded;
                pinning = pin(r, state, log);
                relations = relations(r, state);
                listingMillis = (System.nanoTime() - t0) / 1_000_000;
            } else {
                try (PageServerCatalog catalog = PageServerCatalog.connect(r.url(), r.connection())) {
                    state = new CloneState(r.systemId(), r.lsn() != null ? r.lsn() : catalog.latestLsn(r.systemId()),
                        r.standby());
                    pinning = pin(r, state, log);
                    // the listing on a connection of its own, while the backup streams on this one
                    long[] listingNanos = new long[1];
                    CompletableFuture<Map<RelTag, Integer>> listing = CompletableFuture.supplyAsync(() -> {
                        try {
                            long started = System.nanoTime();
                            Map<RelTag, Integer> m = relations(r, state);
                            listingNanos[0] = System.nanoTime() - started;
                            return m;
                        } catch (SQLException e) {
                            throw new CompletionException(e);
                        }
                    }, CloneMount::onItsOwnThread);
                    long backupStarted = System.nanoTime();
                    try (InputStream tar = catalog.minimalBackup(state.systemId(), state.lsn(), r.standby())) {
                        BackupExtractor.extract(tar, r.upper().resolve("data"));
                        tar.transferTo(java.io.OutputStream.nullOutputStream()); // the tar's end padding: the CopyOut must end
                        if (r.standby()) {
                            StandbyConfig.write(r.upper().resolve("data"), r.primaryConninfo());
                        }
                        backupMillis = (System.nanoTime() - backupStarted) / 1_000_000;
                    } finally {
                        relations = join(listing);
                    }
                    listingMillis = listingNanos[0] / 1_000_000;
                    join(pinning);
                    state.write(r.upper());
                }
            }
            join(warmUp);
        } catch (IOException | SQLException | RuntimeException e) {
            if (pinning != null) {
                pinning.thenAccept(LsnPin::close);
            }
            throw e;
        }
        LsnPin pin = join(pinning);
        long t1 = System.nanoTime();
        LowerLayer lower = LowerLayer.of(relations);
        ControlFile control = ControlFile.parse(Files.readAllBytes(r.upper().resolve("data/global/pg_control")));
        PageServerSource source = PageServerSource.connect(r.url(), r.connection().getProperty("user"),
            r.connection().getProperty("password"), state.systemId(), state.lsn(), RECONNECT_FOR,
            control.dataChecksumVersion() != 0);
        CloneTree tree = new CloneTree(r.upper(), lower, source);
        CloneFileSystem fs = new CloneFileSystem(tree, r.uid(), r.gid(), log);
        try {
            fs.mountAndWait(r.mountPoint(), 30_000);
        } catch (IOException | RuntimeException e) {
            tree.close();
            source.close();
            pin.close();
            throw e;
        }
        long t2 = System.nanoTime();
        String timings = "relations and base backup " + (t1 - t0) / 1_000_000 + " ms (relations " + listingMillis
            + " ms, base backup " + backupMillis + " ms, FUSE set-up " + warmUpNanos[0] / 1_000_000
            + " ms, at once), mount " + (t2 - t1) / 1_000_000 + " ms";
        return new CloneMount(state, recorded != null, timings, tree, source, fs, lower, pin);
    }

    /**
     * The set-up tasks run at once each on a thread of its own: the common pool has one thread
     * on a 2-core machine, which would run them one after the other.
     */
    private static void onItsOwnThread(Runnable task) {
        Thread t = new Thread(task, "clone-setup");
        t.setDaemon(true);
        t.start();
    }

    private static CompletableFuture<LsnPin> pin(Request r, CloneState state, PrintStream log) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return LsnPin.hold(r.url(), r.connection(), state.systemId(), state.lsn(), log);
            } catch (SQLException e) {
                throw new CompletionException(e);
            }
        }, CloneMount::onItsOwnThread);
    }

    private static Map<RelTag, Integer> relations(Request r, CloneState state) throws SQLException {
        try (PageServerCatalog catalog = PageServerCatalog.connect(r.url(), r.connection())) {
            return catalog.relations(state.systemId(), state.lsn());
        }
    }

    /** The future's value; its failure rethrown as itself (an SQLException stays one). */
    private static <T> T join(CompletableFuture<T> f) throws SQLException {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof SQLException s) {
                throw s;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }

    private static void checkMountPoint(Path mp) throws IOException, CloneException {
        // a stale mount first: its directory cannot even be stat'ed until it is detached
        if (CloneFileSystem.isMounted(mp)) {
            if (!CloneFileSystem.isStale(mp)) {
                throw new CloneException("mount point " + mp + " is already mounted");
            }
            CloneFileSystem.unmountStale(mp);
        }
        if (!Files.isDirectory(mp)) {
            throw new CloneException("mount point " + mp + " is not a directory");
        }
        if (!isEmpty(mp)) {
            throw new CloneException("mount point " + mp + " is not empty");
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    public CloneState state() {
        return state;
    }

    public boolean resumed() {
        return resumed;
    }

    /** Where the time to mount went: the relations listing and base backup (at once), the FUSE mount. */
    public String timings() {
        return timings;
    }

    /** Pages read from the pageserver so far and in how many pipelined round trips. */
    public String readStatistics() {
        return source.pagesFetched() + " pages read from the pageserver in " + source.roundTrips() + " round trips";
    }

    /** Relation segment files the lower layer shows, and their total size in bytes. */
    public int lowerFiles() {
        return lower.fileCount();
    }

    public long lowerBytes() {
        return lower.totalBytes();
    }

    /** Unmounts (lazily, so a compute still running does not keep it) and closes the layers. */
    @Override
    public void close() throws IOException {
        try {
            fs.umount();
        } finally {
            tree.close();
            source.close();
            pin.close();
        }
    }
}
