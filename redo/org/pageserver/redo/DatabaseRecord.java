package org.pageserver.redo;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The Database resource manager's records (commands/dbcommands_xlog.h, PG15): what dbase_redo
 * does to the files of a database. Layouts, little-endian:
 *
 * <pre>
 * XLOG_DBASE_CREATE_FILE_COPY 0x00  xl_dbase_create_file_copy_rec: db_id u32, tablespace_id u32,
 *                                   src_db_id u32, src_tablespace_id u32
 * XLOG_DBASE_CREATE_WAL_LOG   0x10  xl_dbase_create_wal_log_rec: db_id u32, tablespace_id u32
 * XLOG_DBASE_DROP             0x20  xl_dbase_drop_rec: db_id u32, ntablespaces i32, tablespace_ids u32[]
 * </pre>
 *
 * FILE_COPY copies the source database's directory as it is at that point of the WAL
 * (every fork of every relation, pg_filenode.map, PG_VERSION); WAL_LOG only creates the
 * directory and PG_VERSION, the relations then arrive as XLOG_SMGR_CREATE and full-page images;
 * DROP removes the database's directory in each tablespace.
 */
public sealed interface DatabaseRecord {
    int XLOG_DBASE_CREATE_FILE_COPY = 0x00;
    int XLOG_DBASE_CREATE_WAL_LOG = 0x10;
    int XLOG_DBASE_DROP = 0x20;

    /** CREATE DATABASE ... STRATEGY FILE_COPY. */
    record FileCopy(int dbId, int tablespaceId, int srcDbId, int srcTablespaceId) implements DatabaseRecord {
    }

    /** CREATE DATABASE ... STRATEGY WAL_LOG (PG15's default). */
    record WalLog(int dbId, int tablespaceId) implements DatabaseRecord {
    }

    /** DROP DATABASE (and the cleanup of a failed CREATE DATABASE). */
    record Drop(int dbId, List<Integer> tablespaceIds) implements DatabaseRecord {
    }

    /**
     * The database change of a record, or null when it is not a Database record.
     *
     * @throws RedoException for malformed record data
     */
    static DatabaseRecord of(WalRecord r) {
        if (r.rmid() != RmgrId.RM_DBASE_ID) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(r.mainData() == null ? new byte[0] : r.mainData()).order(ByteOrder.LITTLE_ENDIAN);
        try {
            return switch (r.rmgrInfo()) {
                case XLOG_DBASE_CREATE_FILE_COPY -> new FileCopy(b.getInt(), b.getInt(), b.getInt(), b.getInt());
                case XLOG_DBASE_CREATE_WAL_LOG -> new WalLog(b.getInt(), b.getInt());
                case XLOG_DBASE_DROP -> {
                    int db = b.getInt();
                    int n = b.getInt();
                    if (n < 0 || n > b.remaining() / 4) {
                        throw new IllegalArgumentException("bad tablespace count " + n);
                    }
                    List<Integer> ts = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        ts.add(b.getInt());
                    }
                    yield new Drop(db, List.copyOf(ts));
                }
                default -> throw new IllegalArgumentException("unknown Database record type 0x"
                    + Integer.toHexString(r.rmgrInfo()));
            };
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new RedoException("Database record is malformed: " + e, r.startLsn());
        }
    }

    /** The directory of a database in a tablespace, as GetDatabasePath names it (no trailing slash). */
    static String databasePath(int tablespaceId, int dbId) {
        if (tablespaceId == org.pageserver.protocol.RelTag.GLOBALTABLESPACE_OID) {
            return "global";
        }
        if (tablespaceId == org.pageserver.protocol.RelTag.DEFAULTTABLESPACE_OID) {
            return "base/" + Integer.toUnsignedString(dbId);
        }
        return TablespaceRecord.linkPath(tablespaceId) + "/" + TablespaceRecord.VERSION_DIRECTORY + "/"
            + Integer.toUnsignedString(dbId);
    }
}
