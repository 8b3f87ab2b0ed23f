package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;

/**
 * SLRU redo against real PostgreSQL 15 WAL and SLRU files.
 *
 * <p>The fixture in src/test/resources/slru/boundaries/ was made by {@code make-slru-fixture.sh} there
 * (see its comments; in short: a PG 15.20 with track_commit_timestamp = on and
 * max_prepared_transactions = 5, counters moved by pg_resetwal next to a CLOG segment end, an
 * offsets page end and the member wraparound; CHECKPOINT; the SLRU directories copied
 * ({@code before.tar.gz}); 900 transactions (a third aborted), a transaction with 70
 * subtransactions some rolled back, COMMIT PREPARED and ROLLBACK PREPARED, four sessions
 * share-locking 800 rows (about 2500 multixacts); CHECKPOINT; the SLRU directories copied again
 * ({@code after.tar.gz}); the raw WAL in between ({@code wal.bin.gz})). Replaying every record
 * after {@code index_from} on the "before" pages must give exactly the "after" pages.
 */
class SlruBoundaryRedoTest {
    static Properties props = new Properties();
    static Map<String, byte[]> before;
    static Map<String, byte[]> after;
    static List<WalRecord> records = new ArrayList<>();

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = SlruBoundaryRedoTest.class.getResourceAsStream("/slru/boundaries/fixture.properties")) {
            props.load(in);
        }
        before = untar(gunzip("/slru/boundaries/before.tar.gz"));
        after = untar(gunzip("/slru/boundaries/after.tar.gz"));
        byte[] wal = gunzip("/slru/boundaries/wal.bin.gz");
        Lsn indexFrom = Lsn.parse(props.getProperty("index_from"));
        WalDecoder d = new WalDecoder(Lsn.parse(props.getProperty("wal_start")),
            Integer.parseInt(props.getProperty("wal_segment_size")));
        d.feed(wal, 0, wal.length, r -> {
            if (r.endLsn().isAfter(indexFrom)) {
                records.add(r);
            }
        });
        assertEquals(Lsn.parse(props.getProperty("end_lsn")), d.lastRecordEnd());
    }

    static byte[] gunzip(String r) throws IOException {
        try (InputStream in = new GZIPInputStream(SlruBoundaryRedoTest.class.getResourceAsStream(r))) {
            return in.readAllBytes();
        }
    }

    static Map<String, byte[]> untar(byte[] tar) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (TarArchiveInputStream t = new TarArchiveInputStream(new java.io.ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = t.getNextEntry()) != null) {
                if (e.isFile()) {
                    files.put(e.getName(), t.readAllBytes());
                }
            }
        }
        return files;
    }

    record PageKey(SlruKind kind, int pageno) {
    }

    /** The pages of the segment files of a copied data directory, by (SLRU, page number). */
    static Map<PageKey, byte[]> pagesOf(Map<String, byte[]> files) {
        Map<PageKey, byte[]> out = new HashMap<>();
        files.forEach((path, bytes) -> {
            SlruKind.SegmentFile seg = SlruKind.parseSegment(path);
            assertTrue(seg != null, path);
            assertEquals(0, bytes.length % 8192, path);
            for (int i = 0; i < bytes.length / 8192; i++) {
                byte[] p = new byte[8192];
                System.arraycopy(bytes, i * 8192, p, 0, 8192);
                out.put(new PageKey(seg.kind(), seg.firstPage() + i), p);
            }
        });
        return out;
    }

    /** pg_waldump --stats=record counts of the fixture's WAL, by "Rmgr/TYPE". */
    static Map<String, Integer> walDumpCounts() throws IOException {
        String text;
        try (InputStream in = SlruBoundaryRedoTest.class.getResourceAsStream("/slru/boundaries/waldump-stats.txt")) {
            text = new String(in.readAllBytes());
        }
        Map<String, Integer> m = new HashMap<>();
        Matcher x = Pattern.compile("(?m)^(\\w+/[\\w+]+) +(\\d+) ").matcher(text);
        while (x.find()) {
            m.put(x.group(1), Integer.parseInt(x.group(2)));
        }
        return m;
    }

    @Test
    void replayingTheWalOnTheBeforePagesGivesTheAfterPagesByteForByte() throws IOException {
        Map<PageKey, byte[]> pages = pagesOf(before);
        Map<PageKey, byte[]> expected = pagesOf(after);
        Map<String, Integer> dump = walDumpCounts();
        Map<String, Integer> seen = new HashMap<>();
        boolean commitTsActive = true; // track_commit_timestamp = on in the fixture's pg_control
        int changes = 0;
        int xids = 0;
        for (WalRecord r : records) {
            Boolean track = SlruRedo.commitTsParameter(r);
            if (track != null) {
                commitTsActive = track;
            }
            XactRecord x = r.rmid() == RmgrId.RM_XACT_ID ? XactRecord.parse(r) : null;
            if (x != null) {
                xids += 1 + x.subxacts().length;
                String op = switch (r.rmgrInfo() & 0x70) {
                    case 0x00 -> "COMMIT";
                    case 0x20 -> "ABORT";
                    case 0x30 -> "COMMIT_PREPARED";
                    default -> "ABORT_PREPARED";
                };
                seen.merge("Transaction/" + op, 1, Integer::sum);
            }
            if (r.rmid() == RmgrId.RM_MULTIXACT_ID || r.rmid() == RmgrId.RM_CLOG_ID || r.rmid() == RmgrId.RM_COMMIT_TS_ID) {
                seen.merge(RmgrId.name(r.rmid()) + "/" + r.rmgrInfo(), 1, Integer::sum);
            }
            for (SlruRedo.SlruPage p : SlruRedo.pages(r, commitTsActive)) {
                byte[] page = pages.computeIfAbsent(new PageKey(p.kind(), p.pageno()), k -> new byte[8192]);
                SlruRedo.redo(r, p.kind(), p.pageno(), page);
                changes++;
            }
        }
        // every SLRU record of the WAL was met (pg_waldump is the oracle)
        assertEquals(dump.get("Transaction/COMMIT"), seen.get("Transaction/COMMIT"));
        assertEquals(dump.get("Transaction/ABORT"), seen.get("Transaction/ABORT"));
        assertEquals(1, seen.get("Transaction/COMMIT_PREPARED"));
        assertEquals(1, seen.get("Transaction/ABORT_PREPARED"));
        assertEquals(dump.get("MultiXact/CREATE_ID"), seen.get("MultiXact/" + 0x20));
        assertEquals(dump.get("MultiXact/ZERO_OFF_PAGE"), seen.get("MultiXact/" + 0x00));
        assertEquals(dump.get("MultiXact/ZERO_MEM_PAGE"), seen.get("MultiXact/" + 0x10));
        assertEquals(dump.get("CLOG/ZEROPAGE"), seen.get("CLOG/" + 0x00));
        assertEquals(dump.get("CommitTs/ZEROPAGE"), seen.get("CommitTs/" + 0x00));
        assertTrue(dump.get("MultiXact/CREATE_ID") > 2000, "multixacts in the fixture");

        List<String> diffs = new ArrayList<>();
        Map<SlruKind, Integer> compared = new TreeMap<>();
        for (Map.Entry<PageKey, byte[]> e : expected.entrySet()) {
            byte[] ours = pages.getOrDefault(e.getKey(), new byte[8192]);
            int at = java.util.Arrays.mismatch(ours, e.getValue());
            if (at >= 0) {
                diffs.add(e.getKey() + " differs at byte " + at);
            }
            compared.merge(e.getKey().kind(), 1, Integer::sum);
        }
        // nothing written past what the primary has
        for (PageKey k : pages.keySet()) {
            assertTrue(expected.containsKey(k), k + " changed by redo but not in the primary's files");
        }
        assertEquals(List.of(), diffs);
        // the boundaries the fixture was made to cross
        assertTrue(expected.containsKey(new PageKey(SlruKind.XACT, 64)), "CLOG page 64 (segment 0002)");
        assertTrue(expected.containsKey(new PageKey(SlruKind.MULTIXACT_OFFSETS, 2)), "offsets page 2");
        assertTrue(expected.containsKey(new PageKey(SlruKind.MULTIXACT_MEMBERS, 2625285)), "last members page");
        assertTrue(expected.containsKey(new PageKey(SlruKind.MULTIXACT_MEMBERS, 4)), "members after the wraparound");
        assertTrue(compared.get(SlruKind.COMMIT_TS) >= 3);
        assertTrue(xids > 2500, xids + " xids");
        assertTrue(changes > 5000, changes + " page changes");
        System.out.println("SlruBoundaryRedoTest: " + records.size() + " records, " + changes + " page changes, " + xids
            + " xids completed, pages compared " + compared);
    }

    /** The checkpoint at the end of the fixture carries the next xid: past every xid completed before it. */
    @Test
    void checkpointRecordsCarryTheNextXid() {
        int maxXid = 0;
        Integer next = null;
        for (WalRecord r : records) {
            XactRecord x = r.rmid() == RmgrId.RM_XACT_ID ? XactRecord.parse(r) : null;
            if (x != null) {
                maxXid = Math.max(maxXid, x.xid());
                for (int s : x.subxacts()) {
                    maxXid = Math.max(maxXid, s);
                }
            }
            Integer c = SlruRedo.checkpointNextXid(r);
            if (c != null) {
                next = c;
            }
        }
        assertTrue(next != null && next > maxXid && next - maxXid < 5, "next xid " + next + ", last completed " + maxXid);
        byte[] ckpt = new byte[88];
        java.nio.ByteBuffer.wrap(ckpt).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(24, 1L << 32 | 12345);
        assertEquals(12345, SlruRedo.checkpointNextXid(new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0,
            RmgrId.RM_XLOG_ID, 0x00, 0, 0, List.of(), ckpt, new byte[0])));
        assertEquals(null, SlruRedo.checkpointNextXid(new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0,
            RmgrId.RM_XLOG_ID, 0x60, 0, 0, List.of(), ckpt, new byte[0])));
    }
}
