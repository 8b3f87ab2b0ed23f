package org.pageserver.storage;

import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * What a tenant must remember to re-attach by itself after a restart.
 *
 * @param systemId      the primary's system identifier
 * @param conninfo      libpq conninfo of the primary, password included (it is needed to
 *                      reconnect; never printed)
 * @param timeline      timeline being followed
 * @param walSegSize    wal_segment_size of the primary
 * @param startLsn      redo pointer of the initial base backup: base images are stored at it,
 *                      and the raw WAL is kept from the start of its segment
 * @param consistentLsn end of the initial base backup: the first LSN that can be served
 * @param slotName      physical replication slot on the primary
 * @param hintsLogged   the primary WAL-logs hint bits (data checksums or wal_log_hints), so
 *                      redo stamps pages whose only change is a hint, as PostgreSQL does
 */
public record TenantMeta(SystemId systemId, String conninfo, int timeline, int walSegSize,
                         Lsn startLsn, Lsn consistentLsn, String slotName, boolean hintsLogged) {
}
