package org.pageserver.redo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * xl_parameter_change (pg_control.h), the main data of XLOG_PARAMETER_CHANGE: the settings the
 * primary also writes to pg_control. Little-endian: MaxConnections, max_worker_processes,
 * max_wal_senders, max_prepared_xacts, max_locks_per_xact, wal_level (i32 each), wal_log_hints
 * bool at 24, track_commit_timestamp bool at 25.
 */
public final class XlParameterChange {
    static final int XLOG_PARAMETER_CHANGE = 0x60;
    /** sizeof(xl_parameter_change), padding included. */
    static final int SIZE = 28;

    private XlParameterChange() {
    }

    /**
     * The settings of an XLOG_PARAMETER_CHANGE record, or null for any other record.
     *
     * @throws RedoException "malformed XLOG PARAMETER_CHANGE record: ..." for short data
     */
    public static ControlFile.Parameters parse(WalRecord r) {
        if (r.rmid() != RmgrId.RM_XLOG_ID || r.rmgrInfo() != XLOG_PARAMETER_CHANGE) {
            return null;
        }
        try {
            return parse(r.mainData());
        } catch (IllegalArgumentException e) {
            throw new RedoException("malformed XLOG PARAMETER_CHANGE record: " + e.getMessage(), r.startLsn());
        }
    }

    /**
     * The settings in an xl_parameter_change (a record's main data, as the ingest keeps it).
     *
     * @throws IllegalArgumentException when it is shorter than the struct
     */
    public static ControlFile.Parameters parse(byte[] d) {
        if (d == null || d.length < SIZE) {
            throw new IllegalArgumentException((d == null ? 0 : d.length) + " bytes of xl_parameter_change, expected "
                + SIZE);
        }
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        return new ControlFile.Parameters(b.getInt(0), b.getInt(4), b.getInt(8), b.getInt(12), b.getInt(16),
            b.getInt(20), d[24] != 0, d[25] != 0);
    }
}
