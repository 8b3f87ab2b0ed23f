package org.pageserver.protocol.wal;

import org.pageserver.protocol.Lsn;

/**
 * The header at the start of every WAL page: XLogPageHeaderData, and at the start of every
 * segment the long form XLogLongPageHeaderData (access/xlog_internal.h, PG15). Little-endian.
 *
 * <pre>
 *  0        2        4        8                16       20       24 (SizeOfXLogShortPHD)
 *  +--------+--------+--------+----------------+--------+--------+
 *  | magic  | info   | tli    | pageaddr       | remlen | (pad)  |
 *  | u16    | u16    | u32    | u64            | u32    |        |
 *  +--------+--------+--------+----------------+--------+--------+
 *  long header (first page of a segment) continues at 24:
 *  24               32       36       40 (SizeOfXLogLongPHD)
 *  +----------------+--------+--------+
 *  | sysid u64      | segsz  | blcksz |
 *  +----------------+--------+--------+
 * </pre>
 *
 * {@code remLen} is how many bytes of a record begun on an earlier page continue on this one
 * (XLP_FIRST_IS_CONTRECORD).
 */
public record XLogPageHeader(int magic, int info, int timeline, long pageAddr, int remLen, long systemId,
                             int segSize, int blockSize) {

    /** XLOG_PAGE_MAGIC of PostgreSQL 15. */
    public static final int XLOG_PAGE_MAGIC = 0xD110;
    public static final int XLOG_BLCKSZ = 8192;
    public static final int SIZE_OF_XLOG_SHORT_PHD = 24;
    public static final int SIZE_OF_XLOG_LONG_PHD = 40;

    public static final int XLP_FIRST_IS_CONTRECORD = 0x0001;
    public static final int XLP_LONG_HEADER = 0x0002;
    public static final int XLP_BKP_REMOVABLE = 0x0004;
    public static final int XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
    public static final int XLP_ALL_FLAGS = 0x000F;

    public boolean isLong() {
        return (info & XLP_LONG_HEADER) != 0;
    }

    public boolean isContRecord() {
        return (info & XLP_FIRST_IS_CONTRECORD) != 0;
    }

    public boolean isOverwriteContRecord() {
        return (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) != 0;
    }

    public int size() {
        return isLong() ? SIZE_OF_XLOG_LONG_PHD : SIZE_OF_XLOG_SHORT_PHD;
    }

    /**
     * Parses and validates the header of the page at {@code pageLsn}, as XLogReaderValidatePageHeader
     * does: magic, known flag bits, page address, and for a segment's first page the long form
     * with a matching segment and block size.
     */
    public static XLogPageHeader parse(byte[] b, int off, int len, Lsn pageLsn, int walSegSize) {
        if (len < SIZE_OF_XLOG_SHORT_PHD) {
            throw new WalDecodeException("WAL page header truncated: " + len + " bytes", pageLsn);
        }
        int magic = u16(b, off);
        int info = u16(b, off + 2);
        int tli = i32(b, off + 4);
        long pageAddr = i64(b, off + 8);
        int remLen = i32(b, off + 16);
        if (magic != XLOG_PAGE_MAGIC) {
            throw new WalDecodeException(String.format("invalid magic number %04X in WAL page", magic), pageLsn);
        }
        if ((info & ~XLP_ALL_FLAGS) != 0) {
            throw new WalDecodeException(String.format("invalid info bits %04X in WAL page", info), pageLsn);
        }
        if (pageAddr != pageLsn.value()) {
            throw new WalDecodeException("unexpected pageaddr " + new Lsn(pageAddr) + " in WAL page", pageLsn);
        }
        boolean segStart = Long.remainderUnsigned(pageLsn.value(), walSegSize) == 0;
        if (segStart != ((info & XLP_LONG_HEADER) != 0)) {
            throw new WalDecodeException(segStart ? "WAL segment does not start with a long page header"
                : "long page header in the middle of a WAL segment", pageLsn);
        }
        if (remLen < 0) {
            throw new WalDecodeException("invalid xlp_rem_len " + Integer.toUnsignedString(remLen) + " in WAL page", pageLsn);
        }
        long sysid = 0;
        int segSize = 0;
        int blcksz = 0;
        if ((info & XLP_LONG_HEADER) != 0) {
            if (len < SIZE_OF_XLOG_LONG_PHD) {
                throw new WalDecodeException("WAL long page header truncated: " + len + " bytes", pageLsn);
            }
            sysid = i64(b, off + 24);
            segSize = i32(b, off + 32);
            blcksz = i32(b, off + 36);
            if (segSize != walSegSize) {
                throw new WalDecodeException("WAL segment size " + segSize + " in page header, expected " + walSegSize,
                    pageLsn);
            }
            if (blcksz != XLOG_BLCKSZ) {
                throw new WalDecodeException("WAL block size " + blcksz + " in page header, expected " + XLOG_BLCKSZ,
                    pageLsn);
            }
        }
        return new XLogPageHeader(magic, info, tli, pageAddr, remLen, sysid, segSize, blcksz);
    }

    /** The header as PostgreSQL writes it (for tests and for WAL the server produces). */
    public byte[] write() {
        byte[] b = new byte[size()];
        put16(b, 0, magic);
        put16(b, 2, info);
        put32(b, 4, timeline);
        put64(b, 8, pageAddr);
        put32(b, 16, remLen);
        if (isLong()) {
            put64(b, 24, systemId);
            put32(b, 32, segSize);
            put32(b, 36, blockSize);
        }
        return b;
    }

    static int u16(byte[] b, int o) {
        return (b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8;
    }

    static int i32(byte[] b, int o) {
        return (b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8 | (b[o + 2] & 0xFF) << 16 | (b[o + 3] & 0xFF) << 24;
    }

    static long i64(byte[] b, int o) {
        return (i32(b, o) & 0xFFFFFFFFL) | ((long) i32(b, o + 4)) << 32;
    }

    static void put16(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
    }

    static void put32(byte[] b, int o, int v) {
        put16(b, o, v);
        put16(b, o + 2, v >>> 16);
    }

    static void put64(byte[] b, int o, long v) {
        put32(b, o, (int) v);
        put32(b, o + 4, (int) (v >>> 32));
    }
}
