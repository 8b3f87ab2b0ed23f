package org.pageserver.redo;

/**
 * Mirrors ginpostinglist.c (PG15): the compressed posting lists of GIN data leaf pages.
 *
 * <pre>
 * GinPostingList: first ItemPointerData (6 bytes), nbytes u16, then nbytes of varbyte-encoded
 *   deltas between successive item pointers, each taken as block &lt;&lt; 11 | offset; the
 *   segment is SHORTALIGNed (SizeOfGinPostingList), a pad byte being 0
 * </pre>
 *
 * <p>An item pointer is held here as a long, block (u32) &lt;&lt; 16 | offset (u16): its order
 * is ginCompareItemPointers's.
 */
final class GinPostingList {
    /** offsetof(GinPostingList, bytes). */
    static final int HEADER = 8;
    static final int MAX_HEAP_TUPLES_PER_PAGE_BITS = 11;
    static final int MAX_BYTES_PER_INTEGER = 7;

    private GinPostingList() {
    }

    /** An ItemPointerData (bi_hi, bi_lo, ip_posid) read at {@code off}. */
    static long itemPointer(byte[] b, int off) {
        return (GinPage.blockId(b, off) & 0xFFFFFFFFL) << 16 | Page.u16(b, off + 4);
    }

    static void putItemPointer(byte[] b, int off, long ip) {
        GinPage.setBlockId(b, off, (int) (ip >>> 16));
        Page.put16(b, off + 4, (int) ip);
    }

    /** SizeOfGinPostingList of the segment at {@code off}. */
    static int sizeOf(byte[] b, int off) {
        return HEADER + Page.shortAlign(Page.u16(b, off + 6));
    }

    static long toUint64(long ip) {
        return (ip >>> 16) << MAX_HEAP_TUPLES_PER_PAGE_BITS | (ip & 0xFFFF);
    }

    static long fromUint64(long val) {
        long offset = val & ((1 << MAX_HEAP_TUPLES_PER_PAGE_BITS) - 1);
        long block = (val >>> MAX_HEAP_TUPLES_PER_PAGE_BITS) & 0xFFFFFFFFL;
        return block << 16 | offset;
    }

    /**
     * Mirrors ginPostingListDecode: the item pointers of the one segment at {@code off}, which
     * must lie within {@code end}.
     */
    static long[] decode(byte[] b, int off, int end) {
        if (off + HEADER > end || off + sizeOf(b, off) > end) {
            throw new IllegalStateException("GIN posting list segment at " + off + " runs past " + end);
        }
        int nbytes = Page.u16(b, off + 6);
        long[] out = new long[nbytes * 2 + 1];
        int n = 0;
        long first = itemPointer(b, off);
        out[n++] = first;
        long val = toUint64(first);
        int[] ptr = {off + HEADER};
        int stop = off + HEADER + nbytes;
        while (ptr[0] < stop) {
            if (n == out.length) {
                out = java.util.Arrays.copyOf(out, out.length * 2);
            }
            val += decodeVarbyte(b, ptr, stop);
            out[n++] = fromUint64(val);
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Mirrors decode_varbyte: up to seven bytes, 7 bits each but all 8 of the seventh. */
    static long decodeVarbyte(byte[] b, int[] ptr, int stop) {
        long val = 0;
        for (int shift = 0; ; shift += 7) {
            if (ptr[0] >= stop) {
                throw new IllegalStateException("GIN posting list varbyte runs past its segment");
            }
            long c = b[ptr[0]++] & 0xFF;
            if (shift == 42) {
                return val | c << 42;
            }
            val |= (c & 0x7F) << shift;
            if ((c & 0x80) == 0) {
                return val;
            }
        }
    }

    /** Mirrors encode_varbyte. */
    static int encodeVarbyte(long val, byte[] out, int pos) {
        while (Long.compareUnsigned(val, 0x7F) > 0) {
            out[pos++] = (byte) (0x80 | (val & 0x7F));
            val >>>= 7;
        }
        out[pos++] = (byte) val;
        return pos;
    }

    /**
     * Mirrors ginCompressPostingList: as many of {@code items} as fit {@code maxsize} bytes in
     * one segment, which is returned at its SizeOfGinPostingList.
     */
    static byte[] compress(long[] items, int n, int maxsize) {
        maxsize &= ~1; // SHORTALIGN_DOWN
        byte[] result = new byte[maxsize];
        int maxbytes = maxsize - HEADER;
        putItemPointer(result, 0, items[0]);
        long prev = toUint64(items[0]);
        int ptr = HEADER;
        int endptr = HEADER + maxbytes;
        byte[] buf = new byte[MAX_BYTES_PER_INTEGER];
        for (int i = 1; i < n; i++) {
            long val = toUint64(items[i]);
            long delta = val - prev;
            if (endptr - ptr >= MAX_BYTES_PER_INTEGER) {
                ptr = encodeVarbyte(delta, result, ptr);
            } else {
                int len = encodeVarbyte(delta, buf, 0);
                if (len > endptr - ptr) {
                    break; // output is full
                }
                System.arraycopy(buf, 0, result, ptr, len);
                ptr += len;
            }
            prev = val;
        }
        int nbytes = ptr - HEADER;
        Page.put16(result, 6, nbytes);
        return java.util.Arrays.copyOf(result, HEADER + Page.shortAlign(nbytes));
    }

    /**
     * Mirrors ginMergeItemPointers: the union of two sorted arrays, sorted, an item in both
     * kept once.
     */
    static long[] merge(long[] a, long[] b) {
        int na = a.length;
        int nb = b.length;
        long[] dst = new long[na + nb];
        if (na == 0 || nb == 0 || a[na - 1] < b[0]) {
            System.arraycopy(a, 0, dst, 0, na);
            System.arraycopy(b, 0, dst, na, nb);
            return dst;
        }
        if (b[nb - 1] < a[0]) {
            System.arraycopy(b, 0, dst, 0, nb);
            System.arraycopy(a, 0, dst, nb, na);
            return dst;
        }
        int d = 0;
        int i = 0;
        int j = 0;
        while (i < na && j < nb) {
            if (a[i] > b[j]) {
                dst[d++] = b[j++];
            } else if (a[i] == b[j]) {
                dst[d++] = b[j++];
                i++;
            } else {
                dst[d++] = a[i++];
            }
        }
        while (i < na) {
            dst[d++] = a[i++];
        }
        while (j < nb) {
            dst[d++] = b[j++];
        }
        return java.util.Arrays.copyOf(dst, d);
    }
}
