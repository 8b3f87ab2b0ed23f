package org.pageserver.redo;

import java.nio.charset.StandardCharsets;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The Tablespace resource manager's records (commands/tablespace.h, PG15): what tblspc_redo
 * does to the data directory. Layouts, little-endian:
 *
 * <pre>
 * XLOG_TBLSPC_CREATE 0x00  xl_tblspc_create_rec: ts_id u32, ts_path char[] (NUL-terminated)
 * XLOG_TBLSPC_DROP   0x10  xl_tblspc_drop_rec: ts_id u32
 * </pre>
 *
 * CREATE makes {@code <ts_path>/PG_15_202209061} and the link {@code pg_tblspc/<ts_id>} to
 * ts_path (create_tablespace_directories); an empty ts_path is an in-place tablespace
 * (allow_in_place_tablespaces), a plain directory {@code pg_tblspc/<ts_id>}. DROP removes
 * both (destroy_tablespace_directories).
 * A tablespace holds nothing when it is dropped: PostgreSQL refuses to drop one that does.
 */
public sealed interface TablespaceRecord {
    int XLOG_TBLSPC_CREATE = 0x00;
    int XLOG_TBLSPC_DROP = 0x10;
    /** TABLESPACE_VERSION_DIRECTORY of PG15 (catversion 202209061). */
    String VERSION_DIRECTORY = "PG_15_202209061";

    int tablespaceId();

    /** CREATE TABLESPACE ... LOCATION 'path'; an empty location is an in-place tablespace. */
    record Create(int tablespaceId, String location) implements TablespaceRecord {
        public boolean inPlace() {
            return location.isEmpty();
        }
    }

    /** DROP TABLESPACE. */
    record Drop(int tablespaceId) implements TablespaceRecord {
    }

    /** The link PostgreSQL keeps for a tablespace: {@code pg_tblspc/<oid>}. */
    static String linkPath(int tablespaceId) {
        return "pg_tblspc/" + Integer.toUnsignedString(tablespaceId);
    }

    /**
     * The tablespace change of a record, or null when it is not a Tablespace record.
     *
     * @throws RedoException for an unknown record type or malformed main data
     */
    static TablespaceRecord of(WalRecord r) {
        if (r.rmid() != RmgrId.RM_TBLSPC_ID) {
            return null;
        }
        byte[] m = r.mainData() == null ? new byte[0] : r.mainData();
        switch (r.rmgrInfo()) {
            case XLOG_TBLSPC_CREATE -> {
                // the OID and at least the path's terminating NUL
                if (m.length < 5) {
                    throw malformed(r, "CREATE", "main data of " + m.length + " bytes, at least 5 needed");
                }
                int nul = 4;
                while (nul < m.length && m[nul] != 0) {
                    nul++;
                }
                if (nul == m.length) {
                    throw malformed(r, "CREATE", "tablespace path is not NUL-terminated");
                }
                return new Create(Page.u32(m, 0), new String(m, 4, nul - 4, StandardCharsets.UTF_8));
            }
            case XLOG_TBLSPC_DROP -> {
                if (m.length < 4) {
                    throw malformed(r, "DROP", "main data of " + m.length + " bytes, at least 4 needed");
                }
                return new Drop(Page.u32(m, 0));
            }
            default -> throw new RedoException("unknown Tablespace record type (xl_info 0x"
                + Integer.toHexString(r.info()) + ")", r.startLsn());
        }
    }

    private static RedoException malformed(WalRecord r, String type, String what) {
        return new RedoException("malformed Tablespace " + type + " record: " + what, r.startLsn());
    }
}
