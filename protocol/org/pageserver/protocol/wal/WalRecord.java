package org.pageserver.protocol.wal;

import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;

/**
 * A decoded WAL record: XLogRecord (xlogrecord.h) with its block references and main data,
 * as DecodedXLogRecord (xlogreader.h) holds it.
 *
 * <p>The record as it is in the WAL (little-endian), once page headers are removed:
 * <pre>
 *  0         4         8                  16     17     18      20        24 (SIZE_OF_XLOG_RECORD)
 *  +---------+---------+------------------+------+------+-------+---------+
 *  | tot_len | xid     | prev             | info | rmid | pad   | crc     |
 *  +---------+---------+------------------+------+------+-------+---------+
 *  then headers, each starting with a block_id byte:
 *    0..32  XLogRecordBlockHeader: id u8, fork_flags u8, data_length u16,
 *           [XLogRecordBlockImageHeader: length u16, hole_offset u16, bimg_info u8,
 *            [XLogRecordBlockCompressHeader: hole_length u16]],
 *           [RelFileNode: spc u32, db u32, rel u32 (absent with BKPBLOCK_SAME_REL)], blkno u32
 *    253    XLR_BLOCK_ID_ORIGIN: origin u16
 *    252    XLR_BLOCK_ID_TOPLEVEL_XID: xid u32
 *    255    XLR_BLOCK_ID_DATA_SHORT: length u8     (last header)
 *    254    XLR_BLOCK_ID_DATA_LONG: length u32     (last header)
 *  then for each block in order its image and its data, then the main data.
 * </pre>
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

    public static final int SIZE_OF_XLOG_RECORD = 24;
    /** offsetof(XLogRecord, xl_crc). */
    static final int XL_CRC_OFFSET = 20;
    public static final int XLR_MAX_BLOCK_ID = 32;
    public static final int XLR_BLOCK_ID_DATA_SHORT = 255;
    public static final int XLR_BLOCK_ID_DATA_LONG = 254;
    public static final int XLR_BLOCK_ID_ORIGIN = 253;
    public static final int XLR_BLOCK_ID_TOPLEVEL_XID = 252;
    /** XLogRecordMaxSize (xlogrecord.h, PG15): 1020 MB. */
    public static final int XLOG_RECORD_MAX_SIZE = 1020 * 1024 * 1024;
    static final int BLCKSZ = 8192;

    /**
     * Decodes a whole record (xl_tot_len bytes), checking its CRC32C and the consistency of its
     * headers as DecodeXLogRecord (xlogreader.c) does.
     *
     * @throws WalDecodeException naming {@code start} when the record is malformed
     */
    public static WalRecord decode(Lsn start, Lsn end, byte[] raw) {
        return decode(start, end, raw, true);
    }

    /** One block's headers while the record's headers are read; its data follows them all. */
    private record BlockHeader(int blockId, RelTag rel, int blkno, int forkFlags, boolean hasImage, int bimgInfo,
                               int holeOffset, int holeLength, int dataLen, int bimgLen) {
    }

    /**
     * As {@link #decode(Lsn, Lsn, byte[])}; {@code verifyCrc} false skips xl_crc, for bytes
     * checked when they were received and kept since in storage that checksums its own blocks
     * (a page rebuild decodes every stored record of the page each time).
     */
    public static WalRecord decode(Lsn start, Lsn end, byte[] raw, boolean verifyCrc) {
        if (raw.length < SIZE_OF_XLOG_RECORD) {
            throw new WalDecodeException("invalid record length: wanted " + SIZE_OF_XLOG_RECORD + ", got " + raw.length,
                start);
        }
        int totLen = XLogPageHeader.i32(raw, 0);
        if (totLen != raw.length) {
            throw new WalDecodeException("record length " + Integer.toUnsignedString(totLen) + " does not match its "
                + raw.length + " bytes", start);
        }
        if (verifyCrc) {
            CRC32C crc = new CRC32C();
            crc.update(raw, SIZE_OF_XLOG_RECORD, totLen - SIZE_OF_XLOG_RECORD);
            crc.update(raw, 0, XL_CRC_OFFSET);
            int stored = XLogPageHeader.i32(raw, XL_CRC_OFFSET);
            if ((int) crc.getValue() != stored) {
                throw new WalDecodeException("incorrect resource manager data checksum in record", start);
            }
        }
        int xid = XLogPageHeader.i32(raw, 4);
        long prev = XLogPageHeader.i64(raw, 8);
        int info = raw[16] & 0xFF;
        int rmid = raw[17] & 0xFF;

        // headers
        int p = SIZE_OF_XLOG_RECORD;
        int remaining = totLen - SIZE_OF_XLOG_RECORD;
        long dataTotal = 0;
        int maxBlockId = -1;
        int origin = 0;
        int toplevelXid = 0;
        int mainDataLen = 0;
        RelTag lastRel = null;
        BlockHeader[] headers = null; // XLogRecordBlockHeader and friends, in header order
        int nheaders = 0;
        while (remaining > dataTotal) {
            int blockId = u8(raw, p, totLen, start);
            p++;
            remaining--;
            if (blockId == XLR_BLOCK_ID_DATA_SHORT) {
                need(remaining, 1, start);
                mainDataLen = raw[p] & 0xFF;
                p++;
                remaining--;
                dataTotal += mainDataLen;
                break;
            } else if (blockId == XLR_BLOCK_ID_DATA_LONG) {
                need(remaining, 4, start);
                mainDataLen = XLogPageHeader.i32(raw, p);
                if (mainDataLen < 0) {
                    throw new WalDecodeException("invalid main data length " + Integer.toUnsignedString(mainDataLen), start);
                }
                p += 4;
                remaining -= 4;
                dataTotal += mainDataLen;
                break;
            } else if (blockId == XLR_BLOCK_ID_ORIGIN) {
                need(remaining, 2, start);
                origin = XLogPageHeader.u16(raw, p);
                p += 2;
                remaining -= 2;
            } else if (blockId == XLR_BLOCK_ID_TOPLEVEL_XID) {
                need(remaining, 4, start);
                toplevelXid = XLogPageHeader.i32(raw, p);
                p += 4;
                remaining -= 4;
            } else if (blockId <= XLR_MAX_BLOCK_ID) {
                if (blockId <= maxBlockId) {
                    throw new WalDecodeException("out-of-order block_id " + blockId, start);
                }
                maxBlockId = blockId;
                need(remaining, 3, start);
                int forkFlags = raw[p] & 0xFF;
                int dataLen = XLogPageHeader.u16(raw, p + 1);
                p += 3;
                remaining -= 3;
                boolean hasImage = (forkFlags & BlockRef.BKPBLOCK_HAS_IMAGE) != 0;
                boolean hasData = (forkFlags & BlockRef.BKPBLOCK_HAS_DATA) != 0;
                if (hasData && dataLen == 0) {
                    throw new WalDecodeException("BKPBLOCK_HAS_DATA set, but no data included", start);
                }
                if (!hasData && dataLen != 0) {
                    throw new WalDecodeException("BKPBLOCK_HAS_DATA not set, but data length is " + dataLen, start);
                }
                dataTotal += dataLen;
                int bimgLen = 0;
                int holeOffset = 0;
                int holeLength = 0;
                int bimgInfo = 0;
                if (hasImage) {
                    need(remaining, 5, start);
                    bimgLen = XLogPageHeader.u16(raw, p);
                    holeOffset = XLogPageHeader.u16(raw, p + 2);
                    bimgInfo = raw[p + 4] & 0xFF;
                    p += 5;
                    remaining -= 5;
                    boolean compressed = (bimgInfo & (BlockRef.BKPIMAGE_COMPRESS_PGLZ | BlockRef.BKPIMAGE_COMPRESS_LZ4
                        | BlockRef.BKPIMAGE_COMPRESS_ZSTD)) != 0;
                    boolean hasHole = (bimgInfo & BlockRef.BKPIMAGE_HAS_HOLE) != 0;
                    if (compressed) {
                        if (hasHole) {
                            need(remaining, 2, start);
                            holeLength = XLogPageHeader.u16(raw, p);
                            p += 2;
                            remaining -= 2;
                        }
                    } else {
                        holeLength = BLCKSZ - bimgLen;
                    }
                    dataTotal += bimgLen;
                    // PostgreSQL's checks below take bimg_len <= BLCKSZ for granted (its
                    // hole_length is BLCKSZ - bimg_len); a longer image would have a negative hole
                    if (bimgLen > BLCKSZ) {
                        throw new WalDecodeException("block image length " + bimgLen + " is more than a page", start);
                    }
                    if (hasHole && (holeOffset == 0 || holeLength == 0 || bimgLen == BLCKSZ)) {
                        throw new WalDecodeException("BKPIMAGE_HAS_HOLE set, but hole offset " + holeOffset + " length "
                            + holeLength + " block image length " + bimgLen, start);
                    }
                    if (!hasHole && (holeOffset != 0 || holeLength != 0)) {
                        throw new WalDecodeException("BKPIMAGE_HAS_HOLE not set, but hole offset " + holeOffset
                            + " length " + holeLength, start);
                    }
                    if (compressed && bimgLen == BLCKSZ) {
                        throw new WalDecodeException("BKPIMAGE_COMPRESSED set, but block image length " + bimgLen, start);
                    }
                    if (!hasHole && !compressed && bimgLen != BLCKSZ) {
                        throw new WalDecodeException("neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block "
                            + "image length is " + bimgLen, start);
                    }
                    if (holeOffset + holeLength > BLCKSZ) {
                        throw new WalDecodeException("block image hole beyond the page: offset " + holeOffset
                            + " length " + holeLength, start);
                    }
                }
                RelTag rel;
                int forkNum = forkFlags & BlockRef.BKPBLOCK_FORK_MASK;
                if (forkNum > ForkNumber.MAX_FORKNUM) {
                    throw new WalDecodeException("invalid fork number " + forkNum + " in block " + blockId, start);
                }
                if ((forkFlags & BlockRef.BKPBLOCK_SAME_REL) == 0) {
                    need(remaining, 12, start);
                    rel = new RelTag(XLogPageHeader.i32(raw, p), XLogPageHeader.i32(raw, p + 4),
                        XLogPageHeader.i32(raw, p + 8), ForkNumber.of(forkNum));
                    p += 12;
                    remaining -= 12;
                } else {
                    if (lastRel == null) {
                        throw new WalDecodeException("BKPBLOCK_SAME_REL set but no previous rel", start);
                    }
                    rel = lastRel.withFork(ForkNumber.of(forkNum));
                }
                lastRel = rel;
                need(remaining, 4, start);
                int blkno = XLogPageHeader.i32(raw, p);
                p += 4;
                remaining -= 4;
                if (headers == null) {
                    headers = new BlockHeader[XLR_MAX_BLOCK_ID + 1];
                }
                headers[nheaders++] = new BlockHeader(blockId, rel, blkno, forkFlags, hasImage, bimgInfo, holeOffset,
                    holeLength, dataLen, bimgLen);
            } else {
                throw new WalDecodeException("invalid block_id " + blockId, start);
            }
        }
        if (remaining != dataTotal) {
            throw new WalDecodeException("record data length " + dataTotal + " does not match the " + remaining
                + " bytes left after its headers", start);
        }
        // data, in header order
        BlockRef[] blocks = new BlockRef[nheaders];
        for (int i = 0; i < nheaders; i++) {
            BlockHeader h = headers[i];
            byte[] image = null;
            if (h.hasImage) {
                image = java.util.Arrays.copyOfRange(raw, p, p + h.bimgLen);
                p += h.bimgLen;
            }
            byte[] data = null;
            if (h.dataLen > 0) {
                data = java.util.Arrays.copyOfRange(raw, p, p + h.dataLen);
                p += h.dataLen;
            }
            blocks[i] = new BlockRef(h.blockId, h.rel, h.blkno, h.forkFlags, h.hasImage,
                (h.bimgInfo & BlockRef.BKPIMAGE_APPLY) != 0, h.bimgInfo, h.holeOffset, h.holeLength, image, data);
        }
        byte[] main = java.util.Arrays.copyOfRange(raw, p, p + mainDataLen);
        return new WalRecord(start, end, prev, xid, rmid, info, origin, toplevelXid, List.of(blocks), main, raw);
    }

    private static int u8(byte[] raw, int p, int totLen, Lsn start) {
        if (p >= totLen) {
            throw new WalDecodeException("record headers run past the record", start);
        }
        return raw[p] & 0xFF;
    }

    private static void need(int remaining, int n, Lsn start) {
        if (remaining < n) {
            throw new WalDecodeException("record headers run past the record", start);
        }
    }

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
