package org.pageserver.protocol.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile;

/**
 * A WAL segment holding nothing but one XLOG_CHECKPOINT_SHUTDOWN record at its start, as
 * pg_resetwal's WriteEmptyXLOG makes it: the first page has a long header (XLP_LONG_HEADER,
 * the timeline, the page address, system identifier, segment and block size) followed by the
 * record (xl_prev 0, xl_xid 0, RM_XLOG_ID, main data the CheckPoint), and the rest of the
 * segment is zeros. A server whose pg_control says "shut down" at this record starts without
 * replay: the record is its redo pointer and the end of its WAL.
 *
 * <pre>
 *   0 XLogLongPageHeaderData (40 bytes)
 *  40 XLogRecord: tot_len u32 = 114 | xid u32 = 0 | prev u64 = 0 | info u8 = 0x00 | rmid u8 = 0 | pad | crc u32
 *  64 XLR_BLOCK_ID_DATA_SHORT u8 | length u8 = 88
 *  66 CheckPoint (88 bytes)
 * 154 zeros up to the end of the segment
 * </pre>
 *
 * @param systemId  the cluster's system identifier (xlp_sysid)
 * @param timeline  xlp_tli, the checkpoint's ThisTimeLineID
 * @param segSize   wal_segment_size
 * @param segNo     the segment's number; the record is at its start + SizeOfXLogLongPHD
 */
public record ShutdownCheckpointWal(long systemId, int timeline, int segSize, long segNo) {
    /** XLOG_CHECKPOINT_SHUTDOWN (pg_control.h). */
    public static final int XLOG_CHECKPOINT_SHUTDOWN = 0x00;
    /** SizeOfXLogRecord + SizeOfXLogRecordDataHeaderShort + sizeof(CheckPoint). */
    public static final int RECORD_LENGTH = WalRecord.SIZE_OF_XLOG_RECORD + 2 + ControlFile.CheckPoint.SIZE;

    public ShutdownCheckpointWal {
        if (segSize < XLogPageHeader.XLOG_BLCKSZ || Integer.bitCount(segSize) != 1) {
            throw new IllegalArgumentException("invalid WAL segment size " + segSize);
        }
    }

    /** Where the segment starts. */
    public Lsn segmentStart() {
        return new Lsn(segNo * segSize);
    }

    /** Where the record starts: what pg_control's checkPoint and the CheckPoint's redo must be. */
    public Lsn recordLsn() {
        return segmentStart().plus(XLogPageHeader.SIZE_OF_XLOG_LONG_PHD);
    }

    /** The segment's file name in pg_wal. */
    public String fileName() {
        return ControlFile.walFileName(timeline, segNo, segSize);
    }

    /**
     * The segment's first page: the long header and the record. The segment is this page
     * followed by {@code segSize - XLOG_BLCKSZ} zero bytes.
     *
     * @throws IllegalArgumentException when the checkpoint's redo is not {@link #recordLsn()}
     *                                  or its timeline not this one (a server would not start)
     */
    public byte[] firstPage(ControlFile.CheckPoint checkPoint) {
        if (!checkPoint.redo().equals(recordLsn())) {
            throw new IllegalArgumentException("the shutdown checkpoint's redo " + checkPoint.redo()
                + " must be the record's own position " + recordLsn());
        }
        if (checkPoint.thisTimeLineId() != timeline) {
            throw new IllegalArgumentException("the checkpoint's timeline " + checkPoint.thisTimeLineId()
                + " is not the segment's " + timeline);
        }
        byte[] page = new byte[XLogPageHeader.XLOG_BLCKSZ];
        byte[] header = new XLogPageHeader(XLogPageHeader.XLOG_PAGE_MAGIC, XLogPageHeader.XLP_LONG_HEADER, timeline,
            segmentStart().value(), 0, systemId, segSize, XLogPageHeader.XLOG_BLCKSZ).write();
        System.arraycopy(header, 0, page, 0, header.length);
        int rec = XLogPageHeader.SIZE_OF_XLOG_LONG_PHD;
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(rec, RECORD_LENGTH);
        b.putInt(rec + 4, 0);
        b.putLong(rec + 8, 0);
        page[rec + 16] = XLOG_CHECKPOINT_SHUTDOWN;
        page[rec + 17] = RmgrId.RM_XLOG_ID;
        page[rec + WalRecord.SIZE_OF_XLOG_RECORD] = (byte) WalRecord.XLR_BLOCK_ID_DATA_SHORT;
        page[rec + WalRecord.SIZE_OF_XLOG_RECORD + 1] = (byte) ControlFile.CheckPoint.SIZE;
        byte[] cp = checkPoint.toBytes();
        System.arraycopy(cp, 0, page, rec + WalRecord.SIZE_OF_XLOG_RECORD + 2, cp.length);
        CRC32C crc = new CRC32C();
        crc.update(page, rec + WalRecord.SIZE_OF_XLOG_RECORD, RECORD_LENGTH - WalRecord.SIZE_OF_XLOG_RECORD);
        crc.update(page, rec, WalRecord.XL_CRC_OFFSET);
        b.putInt(rec + WalRecord.XL_CRC_OFFSET, (int) crc.getValue());
        return page;
    }
}
