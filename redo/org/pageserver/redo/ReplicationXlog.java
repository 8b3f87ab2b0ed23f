package org.pageserver.redo;

import static org.pageserver.redo.RecordData.u16;
import static org.pageserver.redo.RecordData.u32;
import static org.pageserver.redo.RecordData.u64;

import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Mirrors replication/message.h and replication/origin.h (PG15): the records of
 * pg_logical_emit_message (RM_LOGICALMSG_ID) and of replication origins (RM_REPLORIGIN_ID),
 * decoded into records named after their C structs. Neither registers a block: a standby's
 * logicalmsg_redo does nothing, and replorigin_redo changes only the replication progress in
 * its shared memory (saved at a checkpoint to pg_logical/replorigin_checkpoint), so no page
 * changes here either; the ingest check ({@link #check}) makes sure they are what PG15 writes.
 */
final class ReplicationXlog {
    static final int XLOG_LOGICAL_MESSAGE = 0x00;
    static final int XLOG_REPLORIGIN_SET = 0x00;
    static final int XLOG_REPLORIGIN_DROP = 0x10;
    /** InvalidRepOriginId: no origin; never one a record sets or drops. */
    static final int INVALID_REP_ORIGIN_ID = 0;

    private ReplicationXlog() {
    }

    /** The record type's name as pg_waldump prints it (logicalmsgdesc.c, replorigindesc.c). */
    static String type(WalRecord r) {
        int info = r.rmgrInfo();
        if (r.rmid() == RmgrId.RM_LOGICALMSG_ID && info == XLOG_LOGICAL_MESSAGE) {
            return "MESSAGE";
        }
        if (r.rmid() == RmgrId.RM_REPLORIGIN_ID && info == XLOG_REPLORIGIN_SET) {
            return "SET";
        }
        if (r.rmid() == RmgrId.RM_REPLORIGIN_ID && info == XLOG_REPLORIGIN_DROP) {
            return "DROP";
        }
        throw RecordData.unknownType(r);
    }

    /**
     * xl_logical_message: dbId u32, transactional bool, pad, prefix_size u64 (at 8),
     * message_size u64 (at 16); then the prefix with its NUL (prefix_size bytes) and the message.
     */
    record XlLogicalMessage(int dbId, boolean transactional, String prefix, int messageSize) {
        static final int SIZE = 24;

        static XlLogicalMessage parse(WalRecord r) {
            String type = type(r);
            byte[] m = RecordData.main(r, type, SIZE);
            long prefixSize = u64(m, 8);
            long messageSize = u64(m, 16);
            long room = m.length - SIZE;
            if (prefixSize < 0 || messageSize < 0 || prefixSize > room || messageSize > room - prefixSize) {
                throw RecordData.malformed(r, type, "main data of " + m.length + " bytes, a prefix of "
                    + Long.toUnsignedString(prefixSize) + " and a message of " + Long.toUnsignedString(messageSize)
                    + " bytes announced");
            }
            // LogLogicalMessage logs strlen(prefix) + 1 bytes
            if (prefixSize == 0 || m[SIZE + (int) prefixSize - 1] != 0) {
                throw RecordData.malformed(r, type, "prefix without its terminating NUL");
            }
            String prefix = new String(m, SIZE, (int) prefixSize - 1, java.nio.charset.StandardCharsets.UTF_8);
            return new XlLogicalMessage(u32(m, 0), m[4] != 0, prefix, (int) messageSize);
        }
    }

    /** xl_replorigin_set: remote_lsn u64, node_id u16, force bool (sizeof 16). */
    record XlReplOriginSet(long remoteLsn, int nodeId, boolean force) {
        static final int SIZE = 16;

        static XlReplOriginSet parse(WalRecord r) {
            byte[] m = RecordData.main(r, type(r), SIZE);
            return new XlReplOriginSet(u64(m, 0), validNodeId(r, u16(m, 8)), m[10] != 0);
        }
    }

    /** xl_replorigin_drop: node_id u16. */
    record XlReplOriginDrop(int nodeId) {
        static final int SIZE = 2;

        static XlReplOriginDrop parse(WalRecord r) {
            return new XlReplOriginDrop(validNodeId(r, u16(RecordData.main(r, type(r), SIZE), 0)));
        }
    }

    /** replorigin_advance and replorigin_drop_guts only ever log an origin that exists. */
    private static int validNodeId(WalRecord r, int nodeId) {
        if (nodeId == INVALID_REP_ORIGIN_ID) {
            throw RecordData.malformed(r, type(r), "replication origin " + INVALID_REP_ORIGIN_ID
                + " (InvalidRepOriginId)");
        }
        return nodeId;
    }

    /** The ingest check: a record type PG15 writes, its struct and what it announces after it whole, no block. */
    static void check(WalRecord r) {
        if (r.rmid() == RmgrId.RM_LOGICALMSG_ID) {
            XlLogicalMessage.parse(r);
        } else if (type(r).equals("SET")) {
            XlReplOriginSet.parse(r);
        } else {
            XlReplOriginDrop.parse(r);
        }
        if (!r.blocks().isEmpty()) {
            throw RecordData.malformed(r, type(r), "block " + r.blocks().get(0).blockId() + " registered");
        }
    }
}
