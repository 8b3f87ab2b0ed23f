package org.pageserver.redo;

import java.util.ArrayList;
import java.util.List;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The RM_GENERIC_ID record format (generic_xlog.h, generic_xlog.c, PG15): one record type (xl_info
 * 0), up to MAX_GENERIC_XLOG_PAGES blocks, no main data. A block registered with
 * GENERIC_XLOG_FULL_IMAGE carries a full-page image and no data; any other carries a delta as
 * its data: fragments, each
 * <pre>
 *   offset u16, length u16, then length bytes to put at offset
 * </pre>
 * covering the changed bytes below pd_lower and from pd_upper on (GenericXLogFinish writes
 * them in page order, lower part first).
 */
final class GenericXlog {
    /** MAX_GENERIC_XLOG_PAGES = XLR_NORMAL_MAX_BLOCK_ID: block ids 0 to 3. */
    static final int MAX_GENERIC_XLOG_PAGES = 4;
    /** FRAGMENT_HEADER_SIZE: offset and length, two OffsetNumbers. */
    static final int FRAGMENT_HEADER_SIZE = 4;

    private GenericXlog() {
    }

    /** One fragment of a delta: {@code length} bytes at {@code dataOffset} of the block data go to {@code offset}. */
    record Fragment(int offset, int length, int dataOffset) {
    }

    static RedoException malformed(WalRecord r, String what) {
        return new RedoException("malformed Generic record: " + what, r.startLsn());
    }

    /**
     * The fragments of block {@code blockId}'s delta, each whole and inside the page, that
     * together are exactly the block's data (no data: an empty delta, a page registered but
     * not changed).
     */
    static List<Fragment> delta(WalRecord r, int blockId) {
        BlockRef b = r.block(blockId);
        if (b == null) {
            throw malformed(r, "no block " + blockId);
        }
        byte[] d = b.data();
        List<Fragment> out = new ArrayList<>();
        int pos = 0;
        int n = d == null ? 0 : d.length;
        while (pos < n) {
            if (pos + FRAGMENT_HEADER_SIZE > n) {
                throw malformed(r, "block " + blockId + " delta of " + n + " bytes ends inside the header of fragment "
                    + (out.size() + 1));
            }
            int offset = Page.u16(d, pos);
            int length = Page.u16(d, pos + 2);
            if (pos + FRAGMENT_HEADER_SIZE + length > n) {
                throw malformed(r, "block " + blockId + " delta of " + n + " bytes ends inside fragment "
                    + (out.size() + 1) + " (" + length + " bytes at offset " + offset + ")");
            }
            if (offset + length > Page.BLCKSZ) {
                throw malformed(r, "block " + blockId + " fragment " + (out.size() + 1) + " of " + length
                    + " bytes at offset " + offset + " runs past the page");
            }
            out.add(new Fragment(offset, length, pos + FRAGMENT_HEADER_SIZE));
            pos += FRAGMENT_HEADER_SIZE + length;
        }
        return out;
    }

    /**
     * The ingest check of a Generic record: xl_info 0, block ids below MAX_GENERIC_XLOG_PAGES,
     * and the delta of every block not restored from its image parses whole.
     *
     * @throws RedoException naming the record and its LSN
     */
    static void check(WalRecord r) {
        if (r.rmgrInfo() != 0) {
            throw new RedoException("unknown Generic record type (xl_info 0x" + Integer.toHexString(r.info()) + ")",
                r.startLsn());
        }
        for (BlockRef b : r.blocks()) {
            if (b.blockId() >= MAX_GENERIC_XLOG_PAGES) {
                throw malformed(r, "block id " + b.blockId() + ", at most " + (MAX_GENERIC_XLOG_PAGES - 1));
            }
            if (!(b.hasImage() && b.applyImage())) {
                delta(r, b.blockId());
            }
        }
    }
}
