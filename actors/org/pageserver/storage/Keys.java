package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;

/**
 * Key layouts of the tenant store (format {@link #FORMAT_VERSION}). All big-endian and unsigned,
 * so that RocksDB's bytewise order is the order described.
 *
 * <pre>
 * page:    spcnode u32 | dbnode u32 | relnode u32 | fork u8 | blkno u32 | ~lsn u64 | kind u8  (26 bytes)
 * relsize: spcnode u32 | dbnode u32 | relnode u32 | fork u8 | lsn u64                          (21 bytes)
 * wal:     lsn u64                                                                            (8 bytes)
 * file:    path utf8 | 0x00 | lsn u64
 * </pre>
 *
 * <p>Page keys hold the LSN inverted (all bits flipped), so a block's versions sort newest first:
 * "newest version at or before L" is a forward seek to (block, ~L), and the walk back to the
 * image a read starts from is {@code next}, RocksDB's fast direction (backward iteration costs
 * it a re-seek of every level per step). Consecutive blocks of a relation are then read by one
 * iterator moving forward, which is what a base backup does.
 *
 * <p>A page image and a WAL record may share an LSN (an image made after the record that ends
 * at L); the kind byte sorts the image first, so the image at L, which already contains that
 * record, is what a read as of L meets first, and the record is older than it.
 */
final class Keys {
    static final int REL_LEN = 13;
    /** Every version of a block shares these first bytes (the page family's prefix extractor). */
    static final int BLOCK_PREFIX_LEN = REL_LEN + 4;
    static final int PAGE_KEY_LEN = BLOCK_PREFIX_LEN + 8 + 1;
    static final int RELSIZE_KEY_LEN = REL_LEN + 8;

    /**
     * The layout version stored in the metadata. 1: page keys by ascending LSN, records before
     * images at the same LSN (refused: read with this layout it would give wrong pages).
     */
    static final long FORMAT_VERSION = 2;

    static final byte KIND_IMAGE = 0;
    static final byte KIND_RECORD = 1;

    private Keys() {
    }

    private static ByteBuffer rel(ByteBuffer b, RelTag rel) {
        return b.putInt(rel.spcNode()).putInt(rel.dbNode()).putInt(rel.relNode()).put((byte) rel.fork().number);
    }

    static byte[] page(RelTag rel, int blkno, long lsn, byte kind) {
        ByteBuffer b = ByteBuffer.allocate(PAGE_KEY_LEN).order(ByteOrder.BIG_ENDIAN);
        rel(b, rel).putInt(blkno).putLong(~lsn).put(kind);
        return b.array();
    }

    /** Prefix shared by every version of one block. */
    static byte[] blockPrefix(RelTag rel, int blkno) {
        ByteBuffer b = ByteBuffer.allocate(REL_LEN + 4).order(ByteOrder.BIG_ENDIAN);
        rel(b, rel).putInt(blkno);
        return b.array();
    }

    static byte[] relPrefix(RelTag rel) {
        return rel(ByteBuffer.allocate(REL_LEN).order(ByteOrder.BIG_ENDIAN), rel).array();
    }

    static RelTag relOf(byte[] key) {
        ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.BIG_ENDIAN);
        return new RelTag(b.getInt(), b.getInt(), b.getInt(), ForkNumber.of(b.get()));
    }

    static int blknoOf(byte[] pageKey) {
        return ByteBuffer.wrap(pageKey, REL_LEN, 4).order(ByteOrder.BIG_ENDIAN).getInt();
    }

    static long pageLsnOf(byte[] pageKey) {
        return ~ByteBuffer.wrap(pageKey, REL_LEN + 4, 8).order(ByteOrder.BIG_ENDIAN).getLong();
    }

    static byte pageKindOf(byte[] pageKey) {
        return pageKey[PAGE_KEY_LEN - 1];
    }

    static byte[] relsize(RelTag rel, long lsn) {
        ByteBuffer b = ByteBuffer.allocate(RELSIZE_KEY_LEN).order(ByteOrder.BIG_ENDIAN);
        rel(b, rel).putLong(lsn);
        return b.array();
    }

    static long relsizeLsnOf(byte[] key) {
        return ByteBuffer.wrap(key, REL_LEN, 8).order(ByteOrder.BIG_ENDIAN).getLong();
    }

    static byte[] wal(long lsn) {
        return ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(lsn).array();
    }

    static long walLsnOf(byte[] key) {
        return ByteBuffer.wrap(key).order(ByteOrder.BIG_ENDIAN).getLong();
    }

    static byte[] filePrefix(String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        byte[] k = new byte[p.length + 1];
        System.arraycopy(p, 0, k, 0, p.length);
        return k;
    }

    static byte[] file(String path, long lsn) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(p.length + 1 + 8).order(ByteOrder.BIG_ENDIAN);
        b.put(p).put((byte) 0).putLong(lsn);
        return b.array();
    }

    static String filePathOf(byte[] key) {
        return new String(key, 0, key.length - 9, StandardCharsets.UTF_8);
    }

    static long fileLsnOf(byte[] key) {
        return ByteBuffer.wrap(key, key.length - 8, 8).order(ByteOrder.BIG_ENDIAN).getLong();
    }

    /** Lexicographic unsigned comparison of a key's first {@code prefix.length} bytes. */
    static boolean hasPrefix(byte[] key, byte[] prefix) {
        if (key.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (key[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    static Lsn lsn(long v) {
        return new Lsn(v);
    }
}
