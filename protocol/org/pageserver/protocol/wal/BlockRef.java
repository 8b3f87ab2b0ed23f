package org.pageserver.protocol.wal;

import org.pageserver.protocol.RelTag;

/**
 * One block reference of a WAL record: DecodedBkpBlock (xlogreader.h), as read from an
 * XLogRecordBlockHeader, its optional XLogRecordBlockImageHeader and its data.
 *
 * <p>The arrays are shared with the decoded record and must not be modified.
 *
 * @param blockId     block_id (0..XLR_MAX_BLOCK_ID)
 * @param rel         relation and fork (fork from fork_flags &amp; BKPBLOCK_FORK_MASK)
 * @param blkno       block number, unsigned
 * @param forkFlags   the raw fork_flags byte (BKPBLOCK_WILL_INIT, BKPBLOCK_HAS_DATA, ...)
 * @param hasImage    BKPBLOCK_HAS_IMAGE: a full-page image is present
 * @param applyImage  BKPIMAGE_APPLY: the image is to be restored by redo (otherwise it is only
 *                    there for wal_consistency_checking)
 * @param bimgInfo    XLogRecordBlockImageHeader.bimg_info (BKPIMAGE_* flags)
 * @param holeOffset  start of the hole in the image (0 when there is none)
 * @param holeLength  length of the hole (0 when there is none)
 * @param imageData   the image bytes as stored in the record: compressed if bimgInfo says so,
 *                    without the hole; null when there is no image
 * @param data        the block's data (BKPBLOCK_HAS_DATA), null when there is none
 */
public record BlockRef(int blockId, RelTag rel, int blkno, int forkFlags,
                       boolean hasImage, boolean applyImage, int bimgInfo,
                       int holeOffset, int holeLength, byte[] imageData, byte[] data) {

    public static final int BKPBLOCK_FORK_MASK = 0x0F;
    public static final int BKPBLOCK_FLAG_MASK = 0xF0;
    public static final int BKPBLOCK_HAS_IMAGE = 0x10;
    public static final int BKPBLOCK_HAS_DATA = 0x20;
    public static final int BKPBLOCK_WILL_INIT = 0x40;
    public static final int BKPBLOCK_SAME_REL = 0x80;

    public static final int BKPIMAGE_HAS_HOLE = 0x01;
    public static final int BKPIMAGE_APPLY = 0x02;
    public static final int BKPIMAGE_COMPRESS_PGLZ = 0x04;
    public static final int BKPIMAGE_COMPRESS_LZ4 = 0x08;
    public static final int BKPIMAGE_COMPRESS_ZSTD = 0x10;

    /** BKPBLOCK_WILL_INIT: redo initializes the page, so no prior version is needed. */
    public boolean willInit() {
        return (forkFlags & BKPBLOCK_WILL_INIT) != 0;
    }

    public boolean hasData() {
        return data != null;
    }

    static final int BLCKSZ = 8192;

    /**
     * The full page image: decompressed and with its hole filled with zeros, as
     * RestoreBlockImage (xlogreader.c) produces it.
     *
     * @param lsn the record's LSN, for the error message
     * @throws WalDecodeException when there is no image or it cannot be decompressed
     */
    public byte[] restoreImage(org.pageserver.protocol.Lsn lsn) {
        byte[] page = new byte[BLCKSZ];
        restoreImageInto(page, lsn);
        return page;
    }

    /**
     * As {@link #restoreImage}, written over {@code page} (8192 bytes) instead of a new array:
     * the hole is zeroed, everything else comes from the image. On a decoding error the page may
     * be partly overwritten.
     */
    public void restoreImageInto(byte[] page, org.pageserver.protocol.Lsn lsn) {
        if (!hasImage || imageData == null) {
            throw new WalDecodeException("block " + blockId + " has no image", lsn);
        }
        int rawLen = BLCKSZ - holeLength;
        byte[] raw;
        if ((bimgInfo & BKPIMAGE_COMPRESS_PGLZ) != 0) {
            try {
                raw = Pglz.decompress(imageData, 0, imageData.length, rawLen);
            } catch (IllegalArgumentException e) {
                throw new WalDecodeException("could not decompress image of block " + blockId + ": " + e.getMessage(), lsn);
            }
        } else if ((bimgInfo & BKPIMAGE_COMPRESS_LZ4) != 0) {
            raw = new byte[rawLen];
            int n;
            try {
                n = net.jpountz.lz4.LZ4Factory.fastestJavaInstance().safeDecompressor()
                    .decompress(imageData, 0, imageData.length, raw, 0, rawLen);
            } catch (net.jpountz.lz4.LZ4Exception e) {
                throw new WalDecodeException("could not decompress lz4 image of block " + blockId + ": " + e.getMessage(),
                    lsn);
            }
            if (n != rawLen) {
                throw new WalDecodeException("lz4 image of block " + blockId + " decompressed to " + n + " bytes, expected "
                    + rawLen, lsn);
            }
        } else if ((bimgInfo & BKPIMAGE_COMPRESS_ZSTD) != 0) {
            raw = new byte[rawLen];
            long n;
            try {
                n = com.github.luben.zstd.Zstd.decompressByteArray(raw, 0, rawLen, imageData, 0, imageData.length);
            } catch (RuntimeException e) {
                throw new WalDecodeException("could not decompress zstd image of block " + blockId + ": " + e.getMessage(),
                    lsn);
            }
            if (com.github.luben.zstd.Zstd.isError(n) || n != rawLen) {
                throw new WalDecodeException("zstd image of block " + blockId + " decompressed to " + n + " bytes, expected "
                    + rawLen, lsn);
            }
        } else {
            raw = imageData;
            if (raw.length != rawLen) {
                throw new WalDecodeException("image of block " + blockId + " has " + raw.length + " bytes, expected "
                    + rawLen, lsn);
            }
        }
        System.arraycopy(raw, 0, page, 0, holeOffset);
        java.util.Arrays.fill(page, holeOffset, holeOffset + holeLength, (byte) 0);
        System.arraycopy(raw, holeOffset, page, holeOffset + holeLength, BLCKSZ - holeOffset - holeLength);
    }

    public boolean isCompressed() {
        return (bimgInfo & (BKPIMAGE_COMPRESS_PGLZ | BKPIMAGE_COMPRESS_LZ4 | BKPIMAGE_COMPRESS_ZSTD)) != 0;
    }
}
