package org.pageserver.protocol.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.zip.CRC32C;
import org.pageserver.fuzz.FuzzChecks;
import org.pageserver.protocol.Lsn;

/**
 * Fuzz targets for the WAL decoder: a WAL byte stream fed in random chunk splits (page headers,
 * records across pages and segments, padding, XLOG_SWITCH), single records with their length
 * and CRC made right (so the fuzzer reaches every header of DecodeXLogRecord), full-page images
 * restored from them, page headers (which re-encode to the same bytes), and pglz. Only {@link WalDecodeException} with its LSN may escape
 * (IllegalArgumentException from pglz, which declares it), and allocation stays in proportion to
 * the bytes received, whatever xl_tot_len says.
 */
class WalFuzzTest {

    /** The fixtures' wal_segment_size. */
    static final int SEG_SIZE = 1 << 20;

    /**
     * Input: bytes 0..7 the LSN the stream starts at (little-endian, aligned down to 8),
     * bytes 8..11 seed the chunk split, the rest is WAL from that LSN on.
     */
    @FuzzTest(maxDuration = "60s")
    void decoderChunks(byte[] input) throws Exception {
        if (input.length < 12) {
            return;
        }
        long start = XLogPageHeader.i64(input, 0) & ~7L;
        long seed = XLogPageHeader.i32(input, 8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            WalDecoder d = new WalDecoder(new Lsn(start), SEG_SIZE);
            int off = 12;
            try {
                for (int chunk : FuzzChecks.chunkSizes(seed, input.length - 12)) {
                    d.feed(input, off, chunk, WalFuzzTest::restoreImages);
                    off += chunk;
                }
            } catch (WalDecodeException e) {
                assertNotNull(e.lsn());
            }
        });
    }

    /** Input: one record as in the WAL; its xl_tot_len and xl_crc are made right first. */
    @FuzzTest(maxDuration = "60s")
    void record(byte[] input) throws Exception {
        byte[] raw = input.clone();
        if (raw.length >= WalRecord.SIZE_OF_XLOG_RECORD) {
            XLogPageHeader.put32(raw, 0, raw.length);
            CRC32C crc = new CRC32C();
            crc.update(raw, WalRecord.SIZE_OF_XLOG_RECORD, raw.length - WalRecord.SIZE_OF_XLOG_RECORD);
            crc.update(raw, 0, WalRecord.XL_CRC_OFFSET);
            XLogPageHeader.put32(raw, WalRecord.XL_CRC_OFFSET, (int) crc.getValue());
        }
        FuzzChecks.boundedAllocation(input.length, () -> {
            WalRecord r;
            try {
                r = WalRecord.decode(new Lsn(0x1500028L), new Lsn(0x1500028L + raw.length), raw);
            } catch (WalDecodeException e) {
                assertNotNull(e.lsn());
                return;
            }
            restoreImages(r);
        });
    }

    private static void restoreImages(WalRecord r) {
        for (BlockRef b : r.blocks()) {
            if (b.hasImage()) {
                try {
                    assertEquals(BlockRef.BLCKSZ, b.restoreImage(r.startLsn()).length);
                } catch (WalDecodeException e) {
                    assertNotNull(e.lsn());
                }
            }
        }
    }

    /**
     * Input: a page header as the WAL has it, checked as the page at its own xlp_pageaddr; one
     * that parses is written back to the same fields.
     */
    @FuzzTest(maxDuration = "60s")
    void pageHeader(byte[] input) throws Exception {
        if (input.length < 16) {
            return;
        }
        Lsn pageLsn = new Lsn(XLogPageHeader.i64(input, 8));
        FuzzChecks.boundedAllocation(input.length, () -> {
            XLogPageHeader h;
            try {
                h = XLogPageHeader.parse(input, 0, input.length, pageLsn, SEG_SIZE);
            } catch (WalDecodeException e) {
                assertNotNull(e.lsn());
                return;
            }
            byte[] fields = java.util.Arrays.copyOf(input, h.size());
            java.util.Arrays.fill(fields, 20, 24, (byte) 0); // the padding after xlp_rem_len, not a field
            assertArrayEquals(fields, h.write(), "re-encoded " + h);
        });
    }

    /** Input: bytes 0..1 the size to decompress to (at most a page), the rest compressed data. */
    @FuzzTest(maxDuration = "60s")
    void pglz(byte[] input) throws Exception {
        if (input.length < 2) {
            return;
        }
        int rawSize = XLogPageHeader.u16(input, 0) % (BlockRef.BLCKSZ + 1);
        FuzzChecks.boundedAllocation(input.length, () -> {
            try {
                assertEquals(rawSize, Pglz.decompress(input, 2, input.length - 2, rawSize).length);
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass(), String.valueOf(e));
            }
        });
    }
}
