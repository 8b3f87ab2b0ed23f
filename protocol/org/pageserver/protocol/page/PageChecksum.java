package org.pageserver.protocol.page;

/**
 * The data checksum of a relation page (storage/checksum_impl.h, PG15): FNV-1a-like mixing of
 * the page as 32 parallel sums of little-endian u32 words, with pd_checksum counted as zero,
 * xor the block number, folded into 1..65535. PostgreSQL sets it on every page it writes out
 * (PageSetChecksumInplace) except new (all-zero header, pd_upper 0) pages, when the cluster has
 * data checksums; pages in shared buffers and in WAL images may carry a stale one.
 */
public final class PageChecksum {
    public static final int BLCKSZ = 8192;
    /** offsetof(PageHeaderData, pd_checksum). */
    static final int PD_CHECKSUM = 8;
    /** offsetof(PageHeaderData, pd_upper). */
    static final int PD_UPPER = 14;
    static final int N_SUMS = 32;
    static final int FNV_PRIME = 16777619;
    private static final int[] BASE_OFFSETS = {
        0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
        0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
        0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
        0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};

    private PageChecksum() {
    }

    /** pg_checksum_page: the checksum of {@code page} as block {@code blkno} of its fork. */
    public static int compute(byte[] page, int blkno) {
        if (page.length != BLCKSZ) {
            throw new IllegalArgumentException("a page is " + BLCKSZ + " bytes, not " + page.length);
        }
        int[] sums = BASE_OFFSETS.clone();
        for (int i = 0; i < BLCKSZ / (4 * N_SUMS); i++) {
            for (int j = 0; j < N_SUMS; j++) {
                int off = (i * N_SUMS + j) * 4;
                int word = off == PD_CHECKSUM ? word(page, off) & 0xFFFF0000 : word(page, off);
                sums[j] = comp(sums[j], word);
            }
        }
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < N_SUMS; j++) {
                sums[j] = comp(sums[j], 0);
            }
        }
        int result = 0;
        for (int s : sums) {
            result ^= s;
        }
        result ^= blkno;
        return (int) (Integer.toUnsignedLong(result) % 65535) + 1;
    }

    /** PageSetChecksumInplace: stamps the checksum into pd_checksum, unless the page is new. */
    public static void set(byte[] page, int blkno) {
        if (((page[PD_UPPER] & 0xFF) | (page[PD_UPPER + 1] & 0xFF) << 8) == 0) {
            return;
        }
        int c = compute(page, blkno);
        page[PD_CHECKSUM] = (byte) c;
        page[PD_CHECKSUM + 1] = (byte) (c >>> 8);
    }

    private static int comp(int checksum, int value) {
        int tmp = checksum ^ value;
        return tmp * FNV_PRIME ^ (tmp >>> 17);
    }

    private static int word(byte[] b, int o) {
        return (b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8 | (b[o + 2] & 0xFF) << 16 | (b[o + 3] & 0xFF) << 24;
    }
}
