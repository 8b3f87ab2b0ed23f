package org.pageserver.backup;

import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/**
 * pg_control of a standby shut down in recovery at L, for a data directory whose pages are as
 * of L and that must go on following the primary's WAL: what a stock PostgreSQL 15 standby
 * leaves when it stops after replaying up to L, its last restartpoint being the primary's last
 * checkpoint record at or before L.
 * <ul>
 *   <li>state "shut down in recovery", the checkpoint that record (its location and its
 *       CheckPoint, redo pointer included): with standby.signal, StartupXLOG reads that record
 *       and replays the primary's own WAL from its redo pointer, which the primary's WAL after
 *       L continues (a shutdown checkpoint written after L, what a writable clone starts from,
 *       is in no WAL the primary wrote);</li>
 *   <li>minimum recovery point L: the pages are as of L, newer than the redo pointer, which is
 *       what an online base backup or a restarted standby has too: the full-page images the
 *       primary wrote after the redo pointer rebuild every page replay touches first, and no
 *       connection is let in (the standby is not "consistent") before replay reaches L;</li>
 *   <li>no backup in progress (no backup_label, so no end-of-backup record awaited), the
 *       settings of the last XLOG_PARAMETER_CHANGE at or before L.</li>
 * </ul>
 */
record StandbyState(ControlFile controlFile) {
    /** Blocking: reads the store. */
    static StandbyState at(TenantStore store, TenantMeta meta, Lsn lsn, long nowSeconds) {
        ControlFile imported = ShutdownState.importedControlFile(store, lsn);
        ShutdownState.Checkpoint last = ShutdownState.lastCheckpoint(store, imported, lsn);
        // the standby's walreceiver asks for the WAL from the start of the redo pointer's
        // segment (RequestXLogStreaming); START_REPLICATION serves it from where the WAL is kept
        Lsn kept = store.walStart().isValid() ? store.walStart() : meta.startLsn().segmentStart(meta.walSegSize());
        Lsn redo = last.checkPoint().redo();
        if (redo.segmentStart(meta.walSegSize()).isBefore(kept)) {
            throw new BaseBackupException(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "a standby at " + lsn
                + " replays from the redo pointer " + redo + " of the checkpoint at " + last.location()
                + ", and the WAL the pageserver keeps starts at " + kept + " (a checkpoint on the primary after "
                + kept + " makes a later LSN possible)");
        }
        ControlFile control = imported.withState(ControlFile.DbState.SHUTDOWNED_IN_RECOVERY)
            .withCheckPoint(last.location(), last.checkPoint())
            .withTime(nowSeconds)
            .withMinRecoveryPoint(lsn, meta.timeline())
            .withoutBackupPoints()
            .withUnloggedLsn(Lsn.max(imported.unloggedLsn(), ShutdownState.FIRST_NORMAL_UNLOGGED_LSN))
            .withParameters(ShutdownState.parametersAt(store, imported, lsn));
        return new StandbyState(control);
    }
}
