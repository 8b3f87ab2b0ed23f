package org.pageserver.redo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile.CheckPoint;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The counters a server replaying the WAL up to some LSN would hold, kept as a CheckPoint: what
 * a shutdown checkpoint written there must carry so that a server started from it never hands
 * out an XID, OID, MultiXactId or member offset the primary used before it. Starts from a
 * checkpoint record (or pg_control's copy of one) and follows every record after its redo
 * pointer as recovery does:
 * <ul>
 *   <li>every record's xl_xid, the xids and subtransactions of commits, aborts, prepares and
 *       XLOG_XACT_ASSIGNMENT, and MultiXact members: AdvanceNextFullTransactionIdPastXid
 *       (varsup.c), which keeps the epoch and detects wraparound;</li>
 *   <li>XLOG_NEXTOID sets nextOid (xlog_redo); CREATE_ID advances nextMulti and
 *       nextMultiOffset (MultiXactAdvanceNextMXact); MULTIXACT_TRUNCATE_ID advances
 *       oldestMulti (SetMultiXactIdLimit);</li>
 *   <li>a shutdown checkpoint record replaces everything; an online one only advances nextXid,
 *       nextMulti/nextMultiOffset, oldestMulti and oldestXid (its nextOid is older than the
 *       NEXTOID records: xlog_redo ignores it too);</li>
 *   <li>commit timestamps: while they are tracked, commits advance newestCommitTsXid
 *       (TransactionTreeSetCommitTsData), COMMIT_TS_TRUNCATE advances oldestCommitTsXid, and
 *       turning track_commit_timestamp off clears both (DeactivateCommitTs).</li>
 * </ul>
 * Not thread-safe.
 */
public final class CheckPointTracker {
    static final int XLOG_CHECKPOINT_SHUTDOWN = 0x00;
    static final int XLOG_CHECKPOINT_ONLINE = 0x10;
    static final int XLOG_NEXTOID = 0x30;
    static final int XLOG_XACT_ASSIGNMENT = 0x50;
    static final int XLOG_MULTIXACT_TRUNCATE_ID = 0x30;
    static final int COMMIT_TS_TRUNCATE = 0x10;

    private long nextXid;
    private int nextOid;
    private int nextMulti;
    private int nextMultiOffset;
    private int oldestXid;
    private int oldestXidDb;
    private int oldestMulti;
    private int oldestMultiDb;
    private int oldestCommitTsXid;
    private int newestCommitTsXid;
    private final CheckPoint seed;

    /** @param seed the checkpoint replay starts from; the records to apply are those after its redo pointer */
    public CheckPointTracker(CheckPoint seed) {
        this.seed = seed;
        take(seed);
    }

    private void take(CheckPoint c) {
        nextXid = c.nextXid();
        nextOid = c.nextOid();
        nextMulti = c.nextMulti();
        nextMultiOffset = c.nextMultiOffset();
        oldestXid = c.oldestXid();
        oldestXidDb = c.oldestXidDb();
        oldestMulti = c.oldestMulti();
        oldestMultiDb = c.oldestMultiDb();
        oldestCommitTsXid = c.oldestCommitTsXid();
        newestCommitTsXid = c.newestCommitTsXid();
    }

    /**
     * Applies one record (records must come in WAL order).
     *
     * @throws RedoException for record data too short for what it announces
     */
    public void apply(WalRecord r) {
        advancePastXid(r.xid());
        switch (r.rmid()) {
            case RmgrId.RM_XLOG_ID -> applyXlog(r);
            case RmgrId.RM_XACT_ID -> applyXact(r);
            case RmgrId.RM_MULTIXACT_ID -> applyMultiXact(r);
            case RmgrId.RM_COMMIT_TS_ID -> {
                if (r.rmgrInfo() == COMMIT_TS_TRUNCATE) {
                    int oldest = data(r, 8).getInt(4);
                    if (oldestCommitTsXid != Xid.INVALID && Xid.precedes(oldestCommitTsXid, oldest)) {
                        oldestCommitTsXid = oldest;
                    }
                }
            }
            default -> {
            }
        }
    }

    private void applyXlog(WalRecord r) {
        int info = r.rmgrInfo();
        if (info == XLOG_NEXTOID) {
            nextOid = data(r, 4).getInt(0);
        } else if (info == XLOG_CHECKPOINT_SHUTDOWN || info == XLOG_CHECKPOINT_ONLINE) {
            CheckPoint c;
            try {
                c = CheckPoint.parse(r.mainData());
            } catch (RuntimeException e) {
                throw new RedoException("malformed XLOG CHECKPOINT record: " + e.getMessage(), r.startLsn());
            }
            if (info == XLOG_CHECKPOINT_SHUTDOWN) {
                take(c);
                return;
            }
            if (Long.compareUnsigned(nextXid, c.nextXid()) < 0) {
                nextXid = c.nextXid();
            }
            advanceMulti(c.nextMulti(), c.nextMultiOffset());
            if (multiPrecedes(oldestMulti, c.oldestMulti())) {
                oldestMulti = c.oldestMulti();
                oldestMultiDb = c.oldestMultiDb();
            }
            if (Xid.precedes(oldestXid, c.oldestXid())) {
                oldestXid = c.oldestXid();
                oldestXidDb = c.oldestXidDb();
            }
        } else {
            Boolean track = SlruRedo.commitTsParameter(r);
            if (Boolean.FALSE.equals(track)) {
                oldestCommitTsXid = Xid.INVALID;
                newestCommitTsXid = Xid.INVALID;
            }
        }
    }

    private void applyXact(WalRecord r) {
        int op = r.rmgrInfo() & XactRecord.XLOG_XACT_OPMASK;
        if (op == XLOG_XACT_ASSIGNMENT) {
            ByteBuffer b = data(r, 8);
            int n = b.getInt(4);
            if (n < 0 || n > (b.limit() - 8) / 4) {
                throw new RedoException("malformed Transaction ASSIGNMENT record: " + n + " subtransactions",
                    r.startLsn());
            }
            advancePastXid(b.getInt(0));
            for (int i = 0; i < n; i++) {
                advancePastXid(b.getInt(8 + 4 * i));
            }
            return;
        }
        if (XlXactPrepare.isPrepare(r)) {
            XlXactPrepare p = XlXactPrepare.parse(r);
            advancePastXid(p.xid());
            for (int s : p.subxacts()) {
                advancePastXid(s);
            }
            return;
        }
        XactRecord x;
        try {
            x = XactRecord.parse(r);
        } catch (IllegalArgumentException | java.nio.BufferUnderflowException e) {
            throw new RedoException("malformed Transaction record: " + e, r.startLsn());
        }
        if (x == null) {
            return;
        }
        advancePastXid(x.xid());
        int latest = x.xid();
        for (int s : x.subxacts()) {
            advancePastXid(s);
            if (Xid.precedes(latest, s)) {
                latest = s;
            }
        }
        if (x.commit() && oldestCommitTsXid != Xid.INVALID && Xid.precedes(newestCommitTsXid, latest)) {
            newestCommitTsXid = latest;
        }
    }

    private void applyMultiXact(WalRecord r) {
        XlMultiXactCreate c = XlMultiXactCreate.parse(r);
        if (c != null) {
            advanceMulti(SlruRedo.nextMulti(c.mid()), c.endOffset());
            for (int xid : c.xids()) {
                advancePastXid(xid);
            }
        } else if (r.rmgrInfo() == XLOG_MULTIXACT_TRUNCATE_ID) {
            // xl_multixact_truncate: oldestMultiDB, startTruncOff, endTruncOff, ...
            ByteBuffer b = data(r, 12);
            int endTruncOff = b.getInt(8);
            if (multiPrecedes(oldestMulti, endTruncOff)) {
                oldestMulti = endTruncOff;
                oldestMultiDb = b.getInt(0);
            }
        }
    }

    /** AdvanceNextFullTransactionIdPastXid (varsup.c). */
    private void advancePastXid(int xid) {
        if (Integer.compareUnsigned(xid, Xid.FIRST_NORMAL) < 0) {
            return;
        }
        int next = (int) nextXid;
        if (Xid.precedes(xid, next)) {
            return;
        }
        int after = xid + 1;
        if (Integer.compareUnsigned(after, Xid.FIRST_NORMAL) < 0) {
            after = Xid.FIRST_NORMAL; // TransactionIdAdvance skips the special xids
        }
        long epoch = nextXid >>> 32;
        if (Integer.compareUnsigned(after, next) < 0) {
            epoch++;
        }
        nextXid = epoch << 32 | Integer.toUnsignedLong(after);
    }

    /** MultiXactAdvanceNextMXact (multixact.c). */
    private void advanceMulti(int minMulti, int minOffset) {
        if (multiPrecedes(nextMulti, minMulti)) {
            nextMulti = minMulti;
        }
        if (nextMultiOffset - minOffset < 0) { // MultiXactOffsetPrecedes
            nextMultiOffset = minOffset;
        }
    }

    /** MultiXactIdPrecedes: modulo-2^32 comparison. */
    private static boolean multiPrecedes(int a, int b) {
        return a - b < 0;
    }

    private static ByteBuffer data(WalRecord r, int need) {
        byte[] d = r.mainData() == null ? new byte[0] : r.mainData();
        if (d.length < need) {
            throw new RedoException("malformed " + RmgrId.name(r.rmid()) + " record: " + d.length
                + " bytes of main data, expected at least " + need, r.startLsn());
        }
        return ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The checkpoint a clean shutdown at this point would write, as the record at {@code location}
     * (its own redo pointer) on {@code timeline}, at {@code time}: no transaction is running
     * (oldestActiveXid 0), prepared ones are in pg_twophase. {@code prevTimeline} is the
     * timeline forked from when this is the first checkpoint of a new timeline (as
     * CreateCheckPoint writes an end-of-recovery checkpoint), else {@code timeline} itself.
     */
    public CheckPoint shutdownCheckPoint(Lsn location, int timeline, int prevTimeline, long time) {
        return new CheckPoint(location, timeline, prevTimeline, seed.fullPageWrites(), nextXid, nextOid, nextMulti,
            nextMultiOffset, oldestXid, oldestXidDb, oldestMulti, oldestMultiDb, time, oldestCommitTsXid,
            newestCommitTsXid, Xid.INVALID);
    }
}
