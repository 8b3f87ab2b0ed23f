package org.pageserver.protocol.wal;

import java.util.List;
import org.pageserver.protocol.Lsn;

/**
 * A decoded WAL record: XLogRecord (xlogrecord.h) with its block references and main data,
 * as DecodedXLogRecord (xlogreader.h) holds it.
 *
 * <p>{@code endLsn} is the record's LSN for all page-version purposes: PostgreSQL's EndRecPtr,
 * the MAXALIGNed position just past the record, which redo stamps into pd_lsn. {@code raw} is
 * the record exactly as it is in the WAL (xl_tot_len bytes, page headers removed), so it can be
 * stored and decoded again with {@link #decode}.
 *
 * @param startLsn    where the record starts (ReadRecPtr; what pg_waldump prints as "lsn")
 * @param endLsn      EndRecPtr
 * @param prevLsn     xl_prev
 * @param xid         xl_xid, unsigned
 * @param rmid        xl_rmid (see {@link RmgrId})
 * @param info        xl_info (the rmgr's bits in the high nibble, XLR_* flags in the low)
 * @param origin      replication origin (XLR_BLOCK_ID_ORIGIN) or 0
 * @param toplevelXid XLR_BLOCK_ID_TOPLEVEL_XID or 0
 * @param blocks      block references in block_id order
 * @param mainData    main data (XLR_BLOCK_ID_DATA_SHORT/LONG), empty when there is none
 * @param raw         the whole record, header included
 */
public record WalRecord(Lsn startLsn, Lsn endLsn, long prevLsn, int xid, int rmid, int info,
                        int origin, int toplevelXid, List<BlockRef> blocks, byte[] mainData, byte[] raw) {

    /** XLR_INFO_MASK: the low bits of xl_info that belong to xlog itself. */
    public static final int XLR_INFO_MASK = 0x0F;
    /** XLR_RMGR_INFO_MASK: the bits of xl_info that the rmgr owns. */
    public static final int XLR_RMGR_INFO_MASK = 0xF0;
    public static final int XLR_SPECIAL_REL_UPDATE = 0x01;
    public static final int XLR_CHECK_CONSISTENCY = 0x02;

    /** The rmgr's part of xl_info (xl_info &amp; ~XLR_INFO_MASK). */
    public int rmgrInfo() {
        return info & XLR_RMGR_INFO_MASK;
    }

    public BlockRef block(int blockId) {
        for (BlockRef b : blocks) {
            if (b.blockId() == blockId) {
                return b;
            }
        }
        return null;
    }
}
