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

    public boolean isCompressed() {
        return (bimgInfo & (BKPIMAGE_COMPRESS_PGLZ | BKPIMAGE_COMPRESS_LZ4 | BKPIMAGE_COMPRESS_ZSTD)) != 0;
    }
}
