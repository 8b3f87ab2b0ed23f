package org.pageserver.protocol.wal;

/** Resource manager ids, in the order of access/rmgrlist.h (PG15). They are on disk in xl_rmid. */
public final class RmgrId {
    public static final int RM_XLOG_ID = 0;
    public static final int RM_XACT_ID = 1;
    public static final int RM_SMGR_ID = 2;
    public static final int RM_CLOG_ID = 3;
    public static final int RM_DBASE_ID = 4;
    public static final int RM_TBLSPC_ID = 5;
    public static final int RM_MULTIXACT_ID = 6;
    public static final int RM_RELMAP_ID = 7;
    public static final int RM_STANDBY_ID = 8;
    public static final int RM_HEAP2_ID = 9;
    public static final int RM_HEAP_ID = 10;
    public static final int RM_BTREE_ID = 11;
    public static final int RM_HASH_ID = 12;
    public static final int RM_GIN_ID = 13;
    public static final int RM_GIST_ID = 14;
    public static final int RM_SEQ_ID = 15;
    public static final int RM_SPGIST_ID = 16;
    public static final int RM_BRIN_ID = 17;
    public static final int RM_COMMIT_TS_ID = 18;
    public static final int RM_REPLORIGIN_ID = 19;
    public static final int RM_GENERIC_ID = 20;
    public static final int RM_LOGICALMSG_ID = 21;
    public static final int RM_MAX_BUILTIN_ID = RM_LOGICALMSG_ID;

    private static final String[] NAMES = {
        "XLOG", "Transaction", "Storage", "CLOG", "Database", "Tablespace", "MultiXact", "RelMap",
        "Standby", "Heap2", "Heap", "Btree", "Hash", "Gin", "Gist", "Sequence", "SPGist", "BRIN",
        "CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage"
    };

    private RmgrId() {
    }

    /** The name pg_waldump prints for this rmgr ("Heap2"), or "custom#N". */
    public static String name(int rmid) {
        return rmid >= 0 && rmid < NAMES.length ? NAMES[rmid] : "custom#" + rmid;
    }
}
