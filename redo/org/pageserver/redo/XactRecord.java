package org.pageserver.redo;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The end of a transaction, from xl_xact_commit / xl_xact_abort and their prepared forms,
 * parsed as ParseCommitRecord and ParseAbortRecord do (xactdesc.c, PG15). What the commit log,
 * the commit timestamps (SlruRedo) and the relation files (StorageEffects) need of it. Layout,
 * little-endian, each part present as xinfo says:
 * <pre>
 * xact_time i64 | xinfo u32 (if XLOG_XACT_HAS_INFO) | dbId u32, tsId u32 (HAS_DBINFO)
 * | nsubxacts i32, subxacts u32[] (HAS_SUBXACTS) | nrels i32, RelFileNode[] (spc, db, rel) (HAS_RELFILENODES)
 * | nitems i32, xl_xact_stats_item[12 bytes] (HAS_DROPPED_STATS)
 * | nmsgs i32, SharedInvalidationMessage[16 bytes] (HAS_INVALS; commit only)
 * | twophase xid u32 (HAS_TWOPHASE) | gid NUL-terminated (HAS_GID) | origin_lsn i64, origin_timestamp i64 (HAS_ORIGIN)
 * </pre>
 *
 * @param xid          the record's own xid, or for the prepared forms the one in xl_xact_twophase
 * @param relfilenodes the relations whose files the commit or abort drops (main fork)
 * @param time         a commit's time as the primary stores it for commit timestamps: the
 *                     origin's timestamp when it has a non-zero one, else xact_time
 */
public record XactRecord(boolean commit, int xid, int[] subxacts, List<RelTag> relfilenodes, long time) {
    static final int XLOG_XACT_COMMIT = 0x00;
    static final int XLOG_XACT_ABORT = 0x20;
    static final int XLOG_XACT_COMMIT_PREPARED = 0x30;
    static final int XLOG_XACT_ABORT_PREPARED = 0x40;
    static final int XLOG_XACT_OPMASK = 0x70;
    static final int XLOG_XACT_HAS_INFO = 0x80;
    static final int XACT_XINFO_HAS_DBINFO = 1;
    static final int XACT_XINFO_HAS_SUBXACTS = 1 << 1;
    static final int XACT_XINFO_HAS_RELFILENODES = 1 << 2;
    static final int XACT_XINFO_HAS_INVALS = 1 << 3;
    static final int XACT_XINFO_HAS_TWOPHASE = 1 << 4;
    static final int XACT_XINFO_HAS_ORIGIN = 1 << 5;
    static final int XACT_XINFO_HAS_GID = 1 << 7;
    static final int XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;

    /**
     * The transaction end of a commit or abort record (prepared or not); null for any other
     * Transaction record.
     *
     * @throws IllegalArgumentException or BufferUnderflowException for data short of what xinfo announces
     */
    static XactRecord parse(WalRecord r) {
        int op = r.rmgrInfo() & XLOG_XACT_OPMASK;
        boolean commit = op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED;
        if (!commit && op != XLOG_XACT_ABORT && op != XLOG_XACT_ABORT_PREPARED) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(r.mainData() == null ? new byte[0] : r.mainData()).order(ByteOrder.LITTLE_ENDIAN);
        long time = b.getLong();
        int xinfo = (r.rmgrInfo() & XLOG_XACT_HAS_INFO) != 0 ? b.getInt() : 0;
        if ((xinfo & XACT_XINFO_HAS_DBINFO) != 0) {
            skip(b, 8);
        }
        int[] subxacts = new int[0];
        if ((xinfo & XACT_XINFO_HAS_SUBXACTS) != 0) {
            int n = count(b, 4);
            subxacts = new int[n];
            for (int i = 0; i < n; i++) {
                subxacts[i] = b.getInt();
            }
        }
        List<RelTag> rels = List.of();
        if ((xinfo & XACT_XINFO_HAS_RELFILENODES) != 0) {
            int n = count(b, 12);
            List<RelTag> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(new RelTag(b.getInt(), b.getInt(), b.getInt(), ForkNumber.MAIN));
            }
            rels = List.copyOf(out);
        }
        if ((xinfo & XACT_XINFO_HAS_DROPPED_STATS) != 0) {
            skip(b, 12L * count(b, 12));
        }
        if (commit && (xinfo & XACT_XINFO_HAS_INVALS) != 0) {
            skip(b, 16L * count(b, 16));
        }
        int xid = r.xid();
        if ((xinfo & XACT_XINFO_HAS_TWOPHASE) != 0) {
            xid = b.getInt();
            if ((xinfo & XACT_XINFO_HAS_GID) != 0) {
                while (b.get() != 0) {
                    // the gid, up to its NUL
                }
            }
        }
        if ((xinfo & XACT_XINFO_HAS_ORIGIN) != 0) {
            b.getLong(); // origin_lsn
            long originTime = b.getLong();
            // The primary stores the origin's timestamp, or its own commit time when the session
            // has none yet (RecordTransactionCommit and RecordTransactionCommitPrepared: "if
            // (!replorigin || replorigin_session_origin_timestamp == 0)"); the record was
            // written before that fallback, with 0. xact_redo_commit would store the 0 (so a
            // PostgreSQL standby differs from its primary there); the primary's value is kept here.
            if (commit && originTime != 0) {
                time = originTime;
            }
        }
        if (xid == 0) {
            throw new IllegalArgumentException("transaction end without a transaction id");
        }
        return new XactRecord(commit, xid, subxacts, rels, time);
    }

    private static int count(ByteBuffer b, int itemSize) {
        int n = b.getInt();
        if (n < 0 || n > b.remaining() / itemSize) {
            throw new IllegalArgumentException("bad item count " + n);
        }
        return n;
    }

    private static void skip(ByteBuffer b, long n) {
        if (n > b.remaining()) {
            throw new BufferUnderflowException();
        }
        b.position(b.position() + (int) n);
    }
}
