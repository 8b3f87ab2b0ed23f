package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;

/** Where a base backup starts (the checkpoint's redo pointer) and where it is consistent. */
public record BaseBackupResult(Lsn startLsn, int startTimeline, Lsn endLsn, int endTimeline) {
}
