package org.pageserver.redo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * An XLOG_XACT_PREPARE record: its main data is the two-phase state file of the prepared
 * transaction without its CRC (twophase.c, PG15: EndPrepare writes the same bytes to WAL that
 * RecreateTwoPhaseFile later writes to {@code pg_twophase/<XID>} followed by their CRC32C). It
 * starts with xl_xact_prepare (TwoPhaseFileHeader), little-endian:
 * <pre>
 *  0 magic u32 = 0x57F94534   4 total_len u32 (the file's length, CRC included)
 *  8 xid u32                 12 database u32      16 prepared_at i64    24 owner u32
 * 28 nsubxacts i32           32 ncommitrels       36 nabortrels         40 ncommitstats
 * 44 nabortstats             48 ninvalmsgs        52 initfileinval bool 54 gidlen u16
 * 56 origin_lsn u64          64 origin_timestamp i64
 * 72 gid (gidlen bytes, NUL included), MAXALIGNed; then the subtransaction xids u32[nsubxacts], ...
 * </pre>
 * ReadTwoPhaseFile's checks apply: the file is at least the header, one TwoPhaseRecordOnDisk and
 * the CRC; its CRC offset is MAXALIGNed; total_len is the file's length.
 *
 * @param xid      the prepared transaction
 * @param gid      its global identifier
 * @param subxacts its subtransactions
 * @param body     the state file's content before the CRC
 */
public record XlXactPrepare(int xid, String gid, int[] subxacts, byte[] body) {
    static final int XLOG_XACT_PREPARE = 0x10;
    public static final int TWOPHASE_MAGIC = 0x57F94534;
    /** sizeof(xl_xact_prepare), already MAXALIGNed. */
    static final int HEADER_SIZE = 72;
    /** MAXALIGN(sizeof(TwoPhaseRecordOnDisk)): the end sentinel every state file has. */
    static final int RECORD_ON_DISK_SIZE = 8;
    static final int GID_SIZE = 200;

    /** True for an XLOG_XACT_PREPARE record. */
    public static boolean isPrepare(WalRecord r) {
        return r.rmid() == RmgrId.RM_XACT_ID && (r.rmgrInfo() & XactRecord.XLOG_XACT_OPMASK) == XLOG_XACT_PREPARE;
    }

    /**
     * The prepared transaction of an XLOG_XACT_PREPARE record.
     *
     * @throws RedoException "malformed Transaction PREPARE record: ..." when the data is not a
     *                       state file PostgreSQL would read back
     */
    public static XlXactPrepare parse(WalRecord r) {
        try {
            return parse(r.mainData());
        } catch (IllegalArgumentException e) {
            throw new RedoException("malformed Transaction PREPARE record: " + e.getMessage(), r.startLsn());
        }
    }

    /**
     * A state file's content without its CRC (the record's main data).
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static XlXactPrepare parse(byte[] data) {
        if (data == null || data.length < HEADER_SIZE + RECORD_ON_DISK_SIZE) {
            throw new IllegalArgumentException("state of " + (data == null ? 0 : data.length) + " bytes, less than "
                + (HEADER_SIZE + RECORD_ON_DISK_SIZE));
        }
        if (data.length % 8 != 0) {
            throw new IllegalArgumentException("state of " + data.length + " bytes is not MAXALIGNed");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != TWOPHASE_MAGIC) {
            throw new IllegalArgumentException(String.format("invalid magic number %08X", b.getInt(0)));
        }
        long totalLen = Integer.toUnsignedLong(b.getInt(4));
        if (totalLen != data.length + 4L) {
            throw new IllegalArgumentException("total_len " + totalLen + " is not the state's " + data.length
                + " bytes and its CRC");
        }
        int xid = b.getInt(8);
        if (Integer.compareUnsigned(xid, Xid.FIRST_NORMAL) < 0) {
            throw new IllegalArgumentException("invalid transaction id " + Integer.toUnsignedString(xid));
        }
        int nsubxacts = b.getInt(28);
        int gidlen = Short.toUnsignedInt(b.getShort(54));
        if (gidlen == 0 || gidlen > GID_SIZE) {
            throw new IllegalArgumentException("gid length " + gidlen);
        }
        int subStart = HEADER_SIZE + align(gidlen);
        if (nsubxacts < 0 || (long) subStart + 4L * nsubxacts + RECORD_ON_DISK_SIZE > data.length) {
            throw new IllegalArgumentException(nsubxacts + " subtransactions do not fit in " + data.length + " bytes");
        }
        int nul = gidlen - 1;
        if (data[HEADER_SIZE + nul] != 0) {
            throw new IllegalArgumentException("gid is not NUL-terminated");
        }
        String gid = new String(data, HEADER_SIZE, nul, StandardCharsets.UTF_8);
        int[] subxacts = new int[nsubxacts];
        for (int i = 0; i < nsubxacts; i++) {
            subxacts[i] = b.getInt(subStart + 4 * i);
        }
        return new XlXactPrepare(xid, gid, subxacts, data.clone());
    }

    /** {@code pg_twophase/<XID>}: TwoPhaseFilePath. */
    public String path() {
        return path(xid);
    }

    public static String path(int xid) {
        return String.format("pg_twophase/%08X", xid);
    }

    /** The state file as RecreateTwoPhaseFile writes it: the content, then its CRC32C. */
    public byte[] stateFile() {
        CRC32C crc = new CRC32C();
        crc.update(body);
        byte[] out = new byte[body.length + 4];
        System.arraycopy(body, 0, out, 0, body.length);
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(body.length, (int) crc.getValue());
        return out;
    }

    /**
     * The prepared transaction a COMMIT PREPARED or ABORT PREPARED record finishes (its state
     * file is removed then), or null for any other record.
     */
    public static Integer finished(WalRecord r) {
        if (r.rmid() != RmgrId.RM_XACT_ID) {
            return null;
        }
        int op = r.rmgrInfo() & XactRecord.XLOG_XACT_OPMASK;
        if (op != XactRecord.XLOG_XACT_COMMIT_PREPARED && op != XactRecord.XLOG_XACT_ABORT_PREPARED) {
            return null;
        }
        try {
            return XactRecord.parse(r).xid();
        } catch (IllegalArgumentException | java.nio.BufferUnderflowException e) {
            throw new RedoException("malformed Transaction record: " + e, r.startLsn());
        }
    }

    private static int align(int n) {
        return (n + 7) & ~7;
    }
}
