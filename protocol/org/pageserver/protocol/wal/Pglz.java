package org.pageserver.protocol.wal;

/**
 * PostgreSQL's LZ-family decompressor: mirrors pglz_decompress (common/pg_lzcompress.c, PG15),
 * used for full-page images written with {@code wal_compression = pglz}.
 *
 * <p>The stream is groups of one control byte and up to eight items; bit i (LSB first) set
 * means item i is a back-reference of 2 or 3 bytes (length 3..273, offset 1..4095 into what
 * was already produced), clear means a literal byte.
 */
public final class Pglz {
    private Pglz() {
    }

    /**
     * Decompresses {@code src[off, off+len)} into exactly {@code rawSize} bytes.
     *
     * @throws IllegalArgumentException when the data is corrupt or does not fill rawSize exactly
     */
    public static byte[] decompress(byte[] src, int off, int len, int rawSize) {
        byte[] dst = new byte[rawSize];
        int sp = off;
        int srcEnd = off + len;
        int dp = 0;
        while (sp < srcEnd && dp < rawSize) {
            int ctrl = src[sp++] & 0xFF;
            for (int bit = 0; bit < 8 && sp < srcEnd && dp < rawSize; bit++) {
                if ((ctrl & 1) != 0) {
                    if (sp + 1 >= srcEnd) {
                        throw new IllegalArgumentException("pglz: truncated back-reference");
                    }
                    int tag0 = src[sp] & 0xFF;
                    int length = (tag0 & 0x0F) + 3;
                    int offset = ((tag0 & 0xF0) << 4) | (src[sp + 1] & 0xFF);
                    sp += 2;
                    if (length == 18) {
                        if (sp >= srcEnd) {
                            throw new IllegalArgumentException("pglz: truncated back-reference length");
                        }
                        length += src[sp++] & 0xFF;
                    }
                    if (offset == 0 || offset > dp) {
                        throw new IllegalArgumentException("pglz: back-reference offset " + offset + " at output " + dp);
                    }
                    length = Math.min(length, rawSize - dp);
                    // overlapping copies repeat the last `offset` bytes, as memcpy in doubling steps does
                    for (int i = 0; i < length; i++) {
                        dst[dp] = dst[dp - offset];
                        dp++;
                    }
                } else {
                    dst[dp++] = src[sp++];
                }
                ctrl >>>= 1;
            }
        }
        if (dp != rawSize || sp != srcEnd) {
            throw new IllegalArgumentException("pglz: compressed data is corrupt (produced " + dp + " of " + rawSize
                + " bytes, consumed " + (sp - off) + " of " + len + ")");
        }
        return dst;
    }
}
