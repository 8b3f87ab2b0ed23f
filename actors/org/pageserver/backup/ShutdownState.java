package org.pageserver.backup;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.control.ControlFileException;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.wal.ShutdownCheckpointWal;
import org.pageserver.protocol.wal.TimeLineHistory;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.redo.CheckPointTracker;
import org.pageserver.redo.RedoException;
import org.pageserver.redo.XlParameterChange;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.storage.WalStateFiles;

/**
 * pg_control and the WAL of a server shut down cleanly at L, as pg_resetwal would leave them
 * (RewriteControlFile, WriteEmptyXLOG), but with counters that follow the primary exactly:
 * <ul>
 *   <li>the imported pg_control is the base (system identifier, catalog version, block and
 *       segment sizes, data checksums, mock nonce), with the settings of the last
 *       XLOG_PARAMETER_CHANGE at or before L;</li>
 *   <li>the CheckPoint is counted from the last checkpoint record at or before L (the ingest's
 *       {@link WalStateFiles#CHECKPOINT}, or pg_control's own) over every record from its redo
 *       pointer to L ({@link CheckPointTracker}), read from the raw WAL the store keeps;</li>
 *   <li>the checkpoint record sits at the start of the segment after L's, its own redo
 *       pointer; state "shut down", no minimum recovery point, no backup in progress;</li>
 *   <li>a new timeline N+1, N being the primary's, as a promotion at L would leave it: the
 *       segment is named and its page header written for N+1, the checkpoint has
 *       ThisTimeLineID N+1 and PrevTimeLineID N (what CreateCheckPoint writes at the end of
 *       recovery), and {@code history} is the file {@code pg_wal/<N+1>.history} whose
 *       switchpoint is the start of that segment: the primary's WAL is the history up to there.
 *       The server writes its WAL on N+1 from there on, in segments whose names no segment of
 *       the primary has (pg_resetwal keeps the old timeline; a restored server on it would
 *       write the primary's next segment names with other content).</li>
 * </ul>
 */
record ShutdownState(ControlFile controlFile, ControlFile.CheckPoint checkPoint, ShutdownCheckpointWal wal,
                     TimeLineHistory history) {
    /** FirstNormalUnloggedLSN (xlogdefs.h): where the fake LSNs of unlogged relations start. */
    static final Lsn FIRST_NORMAL_UNLOGGED_LSN = new Lsn(1000);

    /** Blocking: reads the store and decodes the WAL since the last checkpoint before {@code lsn}. */
    static ShutdownState at(TenantStore store, TenantMeta meta, Lsn lsn, long nowSeconds) {
        ControlFile imported = importedControlFile(store, lsn);
        ControlFile.CheckPoint seed = lastCheckpoint(store, imported, lsn).checkPoint();
        CheckPointTracker tracker = new CheckPointTracker(seed);
        replay(store, meta, seed.redo(), lsn, tracker);

        ControlFile.Parameters parameters = parametersAt(store, imported, lsn);
        long segNo = lsn.segmentNumber(meta.walSegSize()) + 1;
        int timeline = meta.timeline() + 1;
        ShutdownCheckpointWal wal = new ShutdownCheckpointWal(imported.systemIdentifier(), timeline,
            meta.walSegSize(), segNo);
        TimeLineHistory history = new TimeLineHistory(timeline, meta.timeline(), wal.segmentStart(),
            "base backup at LSN " + lsn);
        ControlFile.CheckPoint cp = tracker.shutdownCheckPoint(wal.recordLsn(), timeline, meta.timeline(), nowSeconds);
        ControlFile control = imported.withState(ControlFile.DbState.SHUTDOWNED)
            .withCheckPoint(wal.recordLsn(), cp)
            .withTime(nowSeconds)
            .withMinRecoveryPoint(Lsn.INVALID, 0)
            .withoutBackupPoints()
            .withUnloggedLsn(Lsn.max(imported.unloggedLsn(), FIRST_NORMAL_UNLOGGED_LSN))
            .withParameters(parameters);
        return new ShutdownState(control, cp, wal, history);
    }

    /** A checkpoint record of the primary: where it starts and what it holds. */
    record Checkpoint(Lsn location, ControlFile.CheckPoint checkPoint) {
    }

    /**
     * The last checkpoint record ending at or before {@code lsn}: the ingest's
     * {@link WalStateFiles#CHECKPOINT}, or the imported pg_control's when the ingest has seen
     * none since.
     */
    static Checkpoint lastCheckpoint(TenantStore store, ControlFile imported, Lsn lsn) {
        Checkpoint last = new Checkpoint(imported.checkPoint(), imported.checkPointCopy());
        Optional<byte[]> stored = store.file(WalStateFiles.CHECKPOINT, lsn);
        if (stored.isPresent()) {
            byte[] v = stored.get();
            if (v.length < 8 + ControlFile.CheckPoint.SIZE) {
                throw new BaseBackupException(SqlState.DATA_CORRUPTED, WalStateFiles.CHECKPOINT + " has " + v.length
                    + " bytes");
            }
            Lsn at = new Lsn(ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
            if (at.isAfter(last.location())) {
                last = new Checkpoint(at, ControlFile.CheckPoint.parse(Arrays.copyOfRange(v, 8, v.length)));
            }
        }
        return last;
    }

    /** The settings of the last XLOG_PARAMETER_CHANGE at or before {@code lsn}, else the imported pg_control's. */
    static ControlFile.Parameters parametersAt(TenantStore store, ControlFile imported, Lsn lsn) {
        return store.file(WalStateFiles.PARAMETER_CHANGE, lsn).map(ShutdownState::parameters).orElse(imported.parameters());
    }

    /** The pg_control of the imported base backup (kept as a file at its start LSN). */
    static ControlFile importedControlFile(TenantStore store, Lsn lsn) {
        byte[] file = store.file("global/pg_control", lsn).orElseThrow(() -> new BaseBackupException(
            SqlState.DATA_CORRUPTED, "the tenant store has no pg_control of its base backup"));
        try {
            return ControlFile.parse(file);
        } catch (ControlFileException e) {
            throw new BaseBackupException(SqlState.DATA_CORRUPTED, "the imported pg_control: " + e.getMessage(), e);
        }
    }

    private static ControlFile.Parameters parameters(byte[] xlParameterChange) {
        try {
            return XlParameterChange.parse(xlParameterChange);
        } catch (IllegalArgumentException e) {
            throw new BaseBackupException(SqlState.DATA_CORRUPTED, WalStateFiles.PARAMETER_CHANGE + ": " + e.getMessage());
        }
    }

    /** Feeds every record from {@code from} (a record boundary) that ends at or before {@code to} to the tracker. */
    private static void replay(TenantStore store, TenantMeta meta, Lsn from, Lsn to, CheckPointTracker tracker) {
        Lsn walStart = store.walStart();
        if (!walStart.isValid() || from.isBefore(walStart)) {
            throw new BaseBackupException(SqlState.INTERNAL_ERROR, "the WAL from the checkpoint's redo pointer " + from
                + " is not kept (it starts at " + walStart + ")");
        }
        if (!from.isBefore(to)) {
            return;
        }
        WalDecoder decoder = new WalDecoder(from, meta.walSegSize());
        try {
            store.readWal(from, to, (at, buf, off, len) -> decoder.feed(buf, off, len, r -> {
                if (!r.endLsn().isAfter(to)) {
                    tracker.apply(r);
                }
            }));
        } catch (WalDecodeException | RedoException e) {
            throw new BaseBackupException(SqlState.DATA_CORRUPTED, "cannot count xids and OIDs up to " + to + ": "
                + e.getMessage(), e);
        }
    }
}
