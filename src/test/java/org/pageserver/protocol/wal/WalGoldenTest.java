package org.pageserver.protocol.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

/**
 * Seven real PG15 segments (src/test/resources/wal/README.md: 14 rmgrs, records spanning pages
 * and segments, XLOG_SWITCH, pglz/lz4/zstd images, consistency-check images) against
 * {@code pg_waldump --bkp-details} of the same bytes.
 */
class WalGoldenTest {
    static final int SEG = 1 << 20;
    static final Lsn FIRST_SEGMENT = Lsn.parse("0/1500000");
    static byte[] wal;
    static List<String> listing = new ArrayList<>();

    @BeforeAll
    static void load() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (String s : new String[] {"15", "16", "17", "18", "19", "1A", "1B"}) {
            all.write(gunzip("/wal/0000000100000000000000" + s + ".gz"));
        }
        wal = all.toByteArray();
        String text = new String(gunzip("/wal/pg_waldump.txt.gz"), StandardCharsets.UTF_8);
        StringBuilder cur = null;
        for (String line : text.split("\n")) {
            if (line.startsWith("rmgr:")) {
                if (cur != null) {
                    listing.add(cur.toString());
                }
                cur = new StringBuilder(line);
            } else if (line.startsWith("\tblkref") && cur != null) {
                cur.append('\n').append(line.trim());
            }
        }
        listing.add(cur.toString());
    }

    static byte[] gunzip(String r) throws IOException {
        try (InputStream in = new GZIPInputStream(WalGoldenTest.class.getResourceAsStream(r))) {
            return in.readAllBytes();
        }
    }

    static final Pattern HEAD = Pattern.compile(
        "rmgr: (\\w+) +len \\(rec/tot\\): +\\d+/ *(\\d+), tx: +(\\d+), lsn: ([0-9A-F/]+), prev ([0-9A-F/]+), desc: .*");
    static final Pattern BLK = Pattern.compile(
        "blkref #(\\d+): rel (\\d+)/(\\d+)/(\\d+) fork (\\w+) blk (\\d+)( \\(FPW\\)| \\(FPW for WAL verification\\))?"
            + "(?:; hole: offset: (\\d+), length: (\\d+))?(?:, compression saved: \\d+, method: (\\w+))?");

    static String expected(String entry) {
        String[] lines = entry.split("\n");
        Matcher m = HEAD.matcher(lines[0]);
        assertTrue(m.matches(), lines[0]);
        StringBuilder sb = new StringBuilder(m.group(1) + " " + m.group(2) + " " + m.group(3) + " "
            + Lsn.parse(m.group(4)) + " " + Lsn.parse(m.group(5)));
        for (int i = 1; i < lines.length; i++) {
            Matcher b = BLK.matcher(lines[i]);
            assertTrue(b.lookingAt(), lines[i]);
            sb.append(" | #").append(b.group(1)).append(' ').append(b.group(2)).append('/').append(b.group(3)).append('/')
                .append(b.group(4)).append(' ').append(b.group(5)).append(' ').append(b.group(6));
            if (b.group(7) != null) {
                sb.append(b.group(7).contains("verification") ? " check" : " apply");
                sb.append(" hole ").append(b.group(8) == null ? "0/0" : b.group(8) + "/" + b.group(9));
                sb.append(' ').append(b.group(10) == null ? "none" : b.group(10));
            }
        }
        return sb.toString();
    }

    static String actual(WalRecord r) {
        StringBuilder sb = new StringBuilder(RmgrId.name(r.rmid()) + " " + r.raw().length + " "
            + Integer.toUnsignedString(r.xid()) + " " + r.startLsn() + " " + new Lsn(r.prevLsn()));
        for (BlockRef b : r.blocks()) {
            String fork = switch (b.rel().fork()) {
                case MAIN -> "main";
                case FSM -> "fsm";
                case VISIBILITYMAP -> "vm";
                case INIT -> "init";
            };
            sb.append(" | #").append(b.blockId()).append(' ').append(Integer.toUnsignedString(b.rel().spcNode())).append('/')
                .append(Integer.toUnsignedString(b.rel().dbNode())).append('/')
                .append(Integer.toUnsignedString(b.rel().relNode())).append(' ').append(fork).append(' ')
                .append(Integer.toUnsignedString(b.blkno()));
            if (b.hasImage()) {
                sb.append(b.applyImage() ? " apply" : " check");
                sb.append(" hole ").append(b.holeOffset()).append('/').append(b.holeLength());
                int ci = b.bimgInfo();
                sb.append(' ').append((ci & BlockRef.BKPIMAGE_COMPRESS_PGLZ) != 0 ? "pglz"
                    : (ci & BlockRef.BKPIMAGE_COMPRESS_LZ4) != 0 ? "lz4"
                    : (ci & BlockRef.BKPIMAGE_COMPRESS_ZSTD) != 0 ? "zstd" : "none");
            }
        }
        return sb.toString();
    }

    @Test
    void everyRecordAndBlockMatchesPgWaldump() {
        List<WalRecord> records = new ArrayList<>();
        WalDecoder d = new WalDecoder(FIRST_SEGMENT, SEG);
        for (int off = 0; off < wal.length; off += 65536) {
            d.feed(wal, off, Math.min(65536, wal.length - off), records::add);
        }
        assertEquals(listing.size(), records.size());
        Set<String> methods = new HashSet<>();
        int images = 0;
        for (int i = 0; i < records.size(); i++) {
            WalRecord r = records.get(i);
            assertEquals(expected(listing.get(i)), actual(r), "record " + i);
            for (BlockRef b : r.blocks()) {
                if (b.hasImage()) {
                    byte[] page = b.restoreImage(r.startLsn());
                    images++;
                    if (b.holeLength() > 0) {
                        // pd_lower and pd_upper bound the hole exactly: the bytes around it are right
                        int lower = (page[12] & 0xFF) | (page[13] & 0xFF) << 8;
                        int upper = (page[14] & 0xFF) | (page[15] & 0xFF) << 8;
                        assertEquals(b.holeOffset(), lower, "record " + i);
                        assertEquals(b.holeOffset() + b.holeLength(), upper, "record " + i);
                    }
                    if (b.isCompressed()) {
                        methods.add(actual(r).replaceAll(".* (pglz|lz4|zstd).*", "$1"));
                    }
                }
            }
        }
        assertEquals(Set.of("pglz", "lz4", "zstd"), methods);
        assertTrue(images > 500, images + " images");
    }
}
