package org.pageserver.redo;

import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * A record's main data and block data as the Xl parsers and the ingest check read them, with
 * their lengths checked. Every error reads "malformed &lt;Rmgr&gt; &lt;TYPE&gt; record: ..." and
 * ends with the record's LSN, so that a refused record is named the same way wherever it is
 * found out.
 */
final class RecordData {
    private RecordData() {
    }

    static RedoException malformed(WalRecord r, String type, String what) {
        return new RedoException("malformed " + RmgrId.name(r.rmid()) + " " + type + " record: " + what, r.startLsn());
    }

    static RedoException unknownType(WalRecord r) {
        return new RedoException("unknown " + RmgrId.name(r.rmid()) + " record type (xl_info 0x"
            + Integer.toHexString(r.info()) + ")", r.startLsn());
    }

    /** The main data, at least {@code atLeast} bytes of it (absent main data reads as empty). */
    static byte[] main(WalRecord r, String type, int atLeast) {
        byte[] m = r.mainData() == null ? new byte[0] : r.mainData();
        if (m.length < atLeast) {
            throw malformed(r, type, "main data of " + m.length + " bytes, at least " + atLeast + " needed");
        }
        return m;
    }

    /** Every one of {@code ids} is a block reference of the record. */
    static void needBlocks(WalRecord r, String type, int... ids) {
        for (int id : ids) {
            if (r.block(id) == null) {
                throw malformed(r, type, "no block " + id);
            }
        }
    }

    /**
     * The data of block {@code id} as its redo routine will read it, or null when the routine
     * will not read it: the block is restored from its full-page image (BKPIMAGE_APPLY;
     * PostgreSQL then leaves its data out, unless REGBUF_KEEP_DATA) or the record has no such
     * block. An absent data part reads as empty.
     */
    static byte[] redoData(WalRecord r, int id) {
        BlockRef b = r.block(id);
        if (b == null || (b.hasImage() && b.applyImage())) {
            return null;
        }
        return b.data() == null ? new byte[0] : b.data();
    }

    /** The data of block {@code id} when redo reads it, at least {@code n} bytes; null when redo does not read it. */
    static byte[] needBlock(WalRecord r, String type, int id, long n) {
        byte[] d = redoData(r, id);
        if (d != null && d.length < n) {
            throw malformed(r, type, "block " + id + " data of " + d.length + " bytes, at least " + n + " needed");
        }
        return d;
    }

    /** The data of block {@code id}, read by redo whatever the block's image: at least {@code n} bytes. */
    static byte[] blockData(WalRecord r, String type, int id, int n) {
        BlockRef b = r.block(id);
        if (b == null) {
            throw malformed(r, type, "no block " + id);
        }
        byte[] d = b.data() == null ? new byte[0] : b.data();
        if (d.length < n) {
            throw malformed(r, type, "block " + id + " data of " + d.length + " bytes, at least " + n + " needed");
        }
        return d;
    }

    static RedoException badBlock(WalRecord r, String type, int id, String what) {
        return malformed(r, type, "block " + id + " data " + what);
    }

    static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    static int u32(byte[] b, int off) {
        return u16(b, off) | u16(b, off + 2) << 16;
    }

    static long u64(byte[] b, int off) {
        return Integer.toUnsignedLong(u32(b, off)) | (long) u32(b, off + 4) << 32;
    }
}
