package org.pageserver.storage;

/**
 * Files the ingest keeps in a tenant store that are not PostgreSQL's (under {@code pageserver/},
 * which no data directory has): what the WAL says that no page holds, versioned like any file.
 */
public final class WalStateFiles {
    /** Every file of the pageserver's own lives under this prefix; a base backup never ships them. */
    public static final String PREFIX = "pageserver/";
    /** The next xid of the last checkpoint, u32 little-endian (where ActivateCommitTs starts). */
    public static final String CHECKPOINT_NEXT_XID = PREFIX + "checkpoint_next_xid";
    /**
     * The last checkpoint record, versioned at its end: its start LSN (u64 little-endian) then
     * its CheckPoint. A base backup at L counts xids, OIDs and multixacts on from the version at
     * or before L.
     */
    public static final String CHECKPOINT = PREFIX + "checkpoint";
    /** The last XLOG_PARAMETER_CHANGE's xl_parameter_change, versioned at its end. */
    public static final String PARAMETER_CHANGE = PREFIX + "parameter_change";

    private WalStateFiles() {
    }
}
