package org.pageserver.redo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * xl_multixact_create (multixact.h), the main data of XLOG_MULTIXACT_CREATE_ID, little-endian:
 * mid u32, moff u32 (the first member's offset), nmembers i32, then nmembers MultiXactMember
 * (xid u32, status u32).
 */
public record XlMultiXactCreate(int mid, int moff, int[] xids, int[] statuses) {
    static final int XLOG_MULTIXACT_CREATE_ID = 0x20;
    static final int SIZE_OF_MULTIXACT_CREATE = 12;

    /**
     * The new MultiXact of an XLOG_MULTIXACT_CREATE_ID record, or null for any other record.
     *
     * @throws RedoException "malformed MultiXact CREATE_ID record: ..." when the members do not fit
     */
    public static XlMultiXactCreate parse(WalRecord r) {
        if (r.rmid() != RmgrId.RM_MULTIXACT_ID || r.rmgrInfo() != XLOG_MULTIXACT_CREATE_ID) {
            return null;
        }
        byte[] d = r.mainData() == null ? new byte[0] : r.mainData();
        if (d.length < SIZE_OF_MULTIXACT_CREATE) {
            throw new RedoException("malformed MultiXact CREATE_ID record: " + d.length + " bytes of main data",
                r.startLsn());
        }
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        int n = b.getInt(8);
        if (n < 0 || n > (d.length - SIZE_OF_MULTIXACT_CREATE) / 8) {
            throw new RedoException("malformed MultiXact CREATE_ID record: " + n + " members in " + d.length
                + " bytes", r.startLsn());
        }
        int[] xids = new int[n];
        int[] statuses = new int[n];
        for (int i = 0; i < n; i++) {
            xids[i] = b.getInt(SIZE_OF_MULTIXACT_CREATE + 8 * i);
            statuses[i] = b.getInt(SIZE_OF_MULTIXACT_CREATE + 8 * i + 4);
        }
        return new XlMultiXactCreate(b.getInt(0), b.getInt(4), xids, statuses);
    }

    /** The offset after the last member: where the next MultiXact's members start (wraps at 2^32). */
    public int endOffset() {
        return moff + xids.length;
    }
}
