package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/** The answer to IDENTIFY_SYSTEM: systemid, timeline, xlogpos, dbname. */
public record IdentifySystem(SystemId systemId, int timeline, Lsn xlogpos, String dbname) {
}
