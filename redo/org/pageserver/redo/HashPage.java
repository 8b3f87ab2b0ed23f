package org.pageserver.redo;

/**
 * Hash index pages (access/hash.h, PG15) and the page initializers redo calls: _hash_pageinit,
 * _hash_initbuf and _hash_init_metabuffer (hashpage.c), _hash_initbitmapbuffer (hashovfl.c),
 * _hash_spareindex and _hash_get_totalbuckets (hashutil.c).
 *
 * <pre>
 * HashPageOpaqueData (special space, 16 bytes): hasho_prevblkno u32, hasho_nextblkno u32,
 *   hasho_bucket u32, hasho_flag u16, hasho_page_id u16
 * HashMetaPageData (at PageGetContents = 24; offsets below from there, 4544 bytes):
 *    0 hashm_magic u32   4 hashm_version u32   8 hashm_ntuples f64  16 hashm_ffactor u16
 *   18 hashm_bsize u16  20 hashm_bmsize u16   22 hashm_bmshift u16 24 hashm_maxbucket u32
 *   28 hashm_highmask   32 hashm_lowmask      36 hashm_ovflpoint   40 hashm_firstfree
 *   44 hashm_nmaps      48 hashm_procid       52 hashm_spares[98]  444 hashm_mapp[1024]
 * bitmap pages: a uint32 array at PageGetContents (HashPageGetBitmap)
 * </pre>
 * Offsets checked with offsetof against the PG15 server headers.
 */
public final class HashPage {
    public static final int LH_UNUSED_PAGE = 0;
    public static final int LH_OVERFLOW_PAGE = 1;
    public static final int LH_BUCKET_PAGE = 1 << 1;
    public static final int LH_BITMAP_PAGE = 1 << 2;
    public static final int LH_META_PAGE = 1 << 3;
    static final int LH_BUCKET_NEEDS_SPLIT_CLEANUP = 1 << 6;
    public static final int LH_PAGE_HAS_DEAD_TUPLES = 1 << 7;
    public static final int LH_PAGE_TYPE = LH_OVERFLOW_PAGE | LH_BUCKET_PAGE | LH_BITMAP_PAGE | LH_META_PAGE;

    static final int HASHO_PAGE_ID = 0xFF80;
    static final int INVALID_BLOCK_NUMBER = 0xFFFFFFFF;
    static final int INVALID_BUCKET = 0xFFFFFFFF;
    static final int SIZE_OF_OPAQUE = 16;

    static final int HASH_MAGIC = 0x6440640;
    static final int HASH_VERSION = 4;
    static final int HASH_MAX_SPLITPOINTS = 98;
    static final int HASH_MAX_BITMAPS = 1024;
    static final int HASH_SPLITPOINT_PHASE_BITS = 2;
    static final int HASH_SPLITPOINT_PHASE_MASK = (1 << HASH_SPLITPOINT_PHASE_BITS) - 1;
    static final int HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE = 10;
    static final int BYTE_TO_BIT = 3;

    /** PageGetContents: MAXALIGN(SizeOfPageHeaderData). */
    static final int CONTENTS = Page.maxAlign(Page.SIZE_OF_PAGE_HEADER_DATA);
    static final int HASHM_NTUPLES = CONTENTS + 8;
    static final int HASHM_FFACTOR = CONTENTS + 16;
    static final int HASHM_BSIZE = CONTENTS + 18;
    static final int HASHM_BMSIZE = CONTENTS + 20;
    static final int HASHM_BMSHIFT = CONTENTS + 22;
    static final int HASHM_MAXBUCKET = CONTENTS + 24;
    static final int HASHM_HIGHMASK = CONTENTS + 28;
    static final int HASHM_LOWMASK = CONTENTS + 32;
    static final int HASHM_OVFLPOINT = CONTENTS + 36;
    static final int HASHM_FIRSTFREE = CONTENTS + 40;
    static final int HASHM_NMAPS = CONTENTS + 44;
    static final int HASHM_PROCID = CONTENTS + 48;
    static final int HASHM_SPARES = CONTENTS + 52;
    static final int HASHM_MAPP = CONTENTS + 444;
    static final int SIZE_OF_META = 4544;

    private HashPage() {
    }

    // ------------------------------------------------------------ HashPageOpaqueData

    static int opaque(byte[] p) {
        int s = Page.special(p);
        if (s + SIZE_OF_OPAQUE > Page.BLCKSZ) {
            throw new IllegalStateException("hash page special space at " + s + " too small for its opaque data");
        }
        return s;
    }

    static void setPrevBlkno(byte[] p, int blkno) {
        Page.put32(p, opaque(p), blkno);
    }

    static void setNextBlkno(byte[] p, int blkno) {
        Page.put32(p, opaque(p) + 4, blkno);
    }

    public static int flag(byte[] p) {
        return Page.u16(p, opaque(p) + 12);
    }

    public static void setFlag(byte[] p, int flag) {
        Page.put16(p, opaque(p) + 12, flag);
    }

    static void setOpaque(byte[] p, int prev, int next, int bucket, int flag) {
        int s = opaque(p);
        Page.put32(p, s, prev);
        Page.put32(p, s + 4, next);
        Page.put32(p, s + 8, bucket);
        Page.put16(p, s + 12, flag);
        Page.put16(p, s + 14, HASHO_PAGE_ID);
    }

    // ------------------------------------------------------------ initializers

    /** _hash_pageinit: an empty page with HashPageOpaqueData as special space. */
    static void pageInit(byte[] p) {
        Page.init(p, SIZE_OF_OPAQUE);
    }

    /** _hash_initbuf with initpage: a bucket or overflow page. */
    static void initBuf(byte[] p, int maxBucket, int numBucket, int flag) {
        pageInit(p);
        setOpaque(p, maxBucket, INVALID_BLOCK_NUMBER, numBucket, flag);
    }

    /** _hash_initbitmapbuffer with initpage: every bit of the first {@code bmsize} bytes set. */
    static void initBitmapBuffer(byte[] p, int bmsize) {
        pageInit(p);
        setOpaque(p, INVALID_BLOCK_NUMBER, INVALID_BLOCK_NUMBER, INVALID_BUCKET, LH_BITMAP_PAGE);
        if (CONTENTS + bmsize > Page.special(p)) {
            throw new IllegalStateException("bitmap of " + bmsize + " bytes does not fit in a page");
        }
        java.util.Arrays.fill(p, CONTENTS, CONTENTS + bmsize, (byte) 0xFF);
        // pd_lower just past the bitmap, as PG sets it (so the page compresses in images)
        Page.setLower(p, CONTENTS + bmsize);
    }

    /** _hash_init_metabuffer with initpage. */
    static void initMetaBuffer(byte[] p, double numTuples, int procid, int ffactor) {
        // always at least 2 buckets, at most 2^30 (as _hash_expandtable allows)
        double dnumbuckets = numTuples / ffactor;
        int numBuckets;
        if (dnumbuckets <= 2.0) {
            numBuckets = 2;
        } else if (dnumbuckets >= (double) 0x40000000) {
            numBuckets = 0x40000000;
        } else {
            numBuckets = getTotalBuckets(spareIndex((int) dnumbuckets));
        }
        int spareIndex = spareIndex(numBuckets);
        pageInit(p);
        setOpaque(p, INVALID_BLOCK_NUMBER, INVALID_BLOCK_NUMBER, INVALID_BUCKET, LH_META_PAGE);
        Page.put32(p, CONTENTS, HASH_MAGIC);
        Page.put32(p, CONTENTS + 4, HASH_VERSION);
        setNtuples(p, 0);
        Page.put32(p, HASHM_NMAPS, 0);
        Page.put16(p, HASHM_FFACTOR, ffactor);
        // HashGetMaxBitmapSize: the page less its header and special space
        int bsize = Page.BLCKSZ - (CONTENTS + Page.maxAlign(SIZE_OF_OPAQUE));
        Page.put16(p, HASHM_BSIZE, bsize);
        int lshift = 31 - Integer.numberOfLeadingZeros(bsize); // pg_leftmost_one_pos32
        Page.put16(p, HASHM_BMSIZE, 1 << lshift);
        Page.put16(p, HASHM_BMSHIFT, lshift + BYTE_TO_BIT);
        Page.put32(p, HASHM_PROCID, procid);
        Page.put32(p, HASHM_MAXBUCKET, numBuckets - 1);
        // highmask: the next (2^x)-1 covering num_buckets (pg_nextpower2_32(num_buckets + 1) - 1)
        int highmask = Integer.highestOneBit(numBuckets) * 2 - 1;
        Page.put32(p, HASHM_HIGHMASK, highmask);
        Page.put32(p, HASHM_LOWMASK, highmask >>> 1);
        // spares and mapp are zero already (PageInit); one spare page after the initial splitpoints
        Page.put32(p, HASHM_SPARES + 4 * spareIndex, 1);
        Page.put32(p, HASHM_OVFLPOINT, spareIndex);
        Page.put32(p, HASHM_FIRSTFREE, 0);
        // pd_lower just past the metadata, so that images of the page keep it
        Page.setLower(p, CONTENTS + SIZE_OF_META);
    }

    /** _hash_spareindex: the splitpoint phase of bucket count {@code numBucket} (unsigned). */
    static int spareIndex(int numBucket) {
        // pg_ceil_log2_32
        int group = Integer.compareUnsigned(numBucket, 1) <= 0 ? 0 : 32 - Integer.numberOfLeadingZeros(numBucket - 1);
        if (group < HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE) {
            return group;
        }
        int phases = HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE;
        phases += (group - HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE) << HASH_SPLITPOINT_PHASE_BITS;
        phases += ((numBucket - 1) >>> (group - (HASH_SPLITPOINT_PHASE_BITS + 1))) & HASH_SPLITPOINT_PHASE_MASK;
        return phases;
    }

    /** _hash_get_totalbuckets: the buckets allocated up to splitpoint phase {@code phase}. */
    static int getTotalBuckets(int phase) {
        if (phase < HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE) {
            return 1 << phase;
        }
        int group = HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE
            + ((phase - HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE) >>> HASH_SPLITPOINT_PHASE_BITS);
        int total = 1 << (group - 1);
        int phasesWithinGroup = ((phase - HASH_SPLITPOINT_GROUPS_WITH_ONE_PHASE) & HASH_SPLITPOINT_PHASE_MASK) + 1;
        total += ((1 << (group - 1)) >>> HASH_SPLITPOINT_PHASE_BITS) * phasesWithinGroup;
        return total;
    }

    // ------------------------------------------------------------ metapage fields

    static double ntuples(byte[] p) {
        return Double.longBitsToDouble(u64(p, HASHM_NTUPLES));
    }

    static void setNtuples(byte[] p, double v) {
        long bits = Double.doubleToRawLongBits(v);
        Page.put32(p, HASHM_NTUPLES, (int) bits);
        Page.put32(p, HASHM_NTUPLES + 4, (int) (bits >>> 32));
    }

    static long u64(byte[] p, int o) {
        return (Page.u32(p, o) & 0xFFFFFFFFL) | (long) Page.u32(p, o + 4) << 32;
    }

    /** hashm_spares[i] or hashm_mapp[i], checked against the array's length. */
    static int sparesOffset(long i) {
        if (i < 0 || i >= HASH_MAX_SPLITPOINTS) {
            throw new IllegalStateException("splitpoint " + i + " beyond hashm_spares[" + HASH_MAX_SPLITPOINTS + "]");
        }
        return HASHM_SPARES + 4 * (int) i;
    }

    static int mappOffset(long i) {
        if (i < 0 || i >= HASH_MAX_BITMAPS) {
            throw new IllegalStateException("bitmap " + i + " beyond hashm_mapp[" + HASH_MAX_BITMAPS + "]");
        }
        return HASHM_MAPP + 4 * (int) i;
    }

    /** SETBIT / CLRBIT on a bitmap page's uint32 words (HashPageGetBitmap). */
    static void setBitmapBit(byte[] p, int bit, boolean set) {
        long n = bit & 0xFFFFFFFFL;
        int word = CONTENTS + 4 * (int) (n / 32);
        if (n / 32 * 4 + 4 > Page.special(p) - CONTENTS) {
            throw new IllegalStateException("bitmap bit " + n + " beyond the bitmap page");
        }
        int mask = 1 << (int) (n % 32);
        int w = Page.u32(p, word);
        Page.put32(p, word, set ? w | mask : w & ~mask);
    }
}
