package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * SLRU redo on real PG15 WAL (src/test/resources/slru/make-fixture.sh): the primary's SLRU
 * files copied at a checkpoint (before/), the WAL of a workload of commits, aborts,
 * subtransactions, two-phase commit and MultiXacts, and the files copied at the next
 * checkpoint (after/). Replaying the WAL's SLRU changes onto before/ gives after/, byte for
 * byte; the transaction ends parsed equal pg_waldump's descriptions.
 */
class SlruRedoTest {
    static final Path DIR = Path.of("src/test/resources/slru");
    static List<WalRecord> records;
    static List<String> listing;

    @BeforeAll
    static void load() throws IOException {
        records = WalFixture.load(DIR).records();
        listing = Arrays.asList(new String(WalFixture.gunzip(DIR.resolve("pg_waldump.txt.gz")), StandardCharsets.UTF_8)
            .split("\n"));
    }

    record Key(SlruKind kind, int pageno) {
    }

    static Map<Key, byte[]> pages(Path root) throws IOException {
        Map<Key, byte[]> out = new HashMap<>();
        for (SlruKind k : SlruKind.values()) {
            Path d = root.resolve(k.dir);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> files = Files.list(d)) {
                for (Path f : files.toList()) {
                    SlruKind.SegmentFile s = SlruKind.parseSegment(k.dir + "/" + f.getFileName());
                    byte[] b = Files.readAllBytes(f);
                    for (int i = 0; i < b.length / 8192; i++) {
                        out.put(new Key(k, s.firstPage() + i), Arrays.copyOfRange(b, i * 8192, (i + 1) * 8192));
                    }
                }
            }
        }
        return out;
    }

    @Test
    void replayingTheWalOntoTheFilesOfOneCheckpointGivesTheFilesOfTheNext() throws IOException {
        Map<Key, byte[]> pages = pages(DIR.resolve("before"));
        Map<String, Integer> applied = new HashMap<>();
        for (WalRecord r : records) {
            for (SlruRedo.SlruPage sp : SlruRedo.pages(r, true)) {
                byte[] page = pages.computeIfAbsent(new Key(sp.kind(), sp.pageno()), k -> new byte[8192]);
                SlruRedo.redo(r, sp.kind(), sp.pageno(), page);
                applied.merge(RmgrId.name(r.rmid()) + "->" + sp.kind(), 1, Integer::sum);
            }
        }
        Map<Key, byte[]> after = pages(DIR.resolve("after"));
        assertEquals(after.keySet(), pages.keySet());
        for (Map.Entry<Key, byte[]> e : after.entrySet()) {
            assertArrayEquals(e.getValue(), pages.get(e.getKey()), e.getKey().toString());
        }
        assertTrue(applied.getOrDefault("Transaction->XACT", 0) > 1000, applied.toString());
        assertTrue(applied.getOrDefault("Transaction->COMMIT_TS", 0) > 1000, applied.toString());
        assertTrue(applied.getOrDefault("MultiXact->MULTIXACT_MEMBERS", 0) >= 4, applied.toString());
        assertTrue(applied.getOrDefault("CommitTs->COMMIT_TS", 0) >= 2, applied.toString());
    }

    static final Pattern END = Pattern.compile(
        "rmgr: Transaction .* tx: +(\\d+), lsn: ([0-9A-F/]+), .*desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED)( \\d+)?:? .*");

    @Test
    void transactionEndsAreParsedAsPgWaldumpDescribesThem() {
        Map<Lsn, WalRecord> byLsn = new HashMap<>();
        records.forEach(r -> byLsn.put(r.startLsn(), r));
        int checked = 0;
        for (String line : listing) {
            Matcher m = END.matcher(line);
            if (!m.matches()) {
                continue;
            }
            WalRecord r = byLsn.get(Lsn.parse(m.group(2)));
            XactRecord x = XactRecord.parse(r);
            int xid = m.group(4) != null ? Integer.parseInt(m.group(4).trim()) : Integer.parseInt(m.group(1));
            assertEquals(xid, x.xid(), line);
            assertEquals(m.group(3).startsWith("COMMIT"), x.commit(), line);
            int i = line.indexOf("subxacts: ");
            int[] subs = i < 0 ? new int[0] : Arrays.stream(line.substring(i + 10).split(";")[0].trim().split(" "))
                .mapToInt(Integer::parseInt).toArray();
            assertArrayEquals(subs, x.subxacts(), line);
            checked++;
        }
        assertTrue(checked > 1000, "checked " + checked);
    }

    @Test
    void malformedRecordsAreRedoExceptionsWithTheLsn() {
        WalRecord commit = records.stream().filter(r -> r.rmid() == RmgrId.RM_XACT_ID
            && XactRecord.parse(r) != null && XactRecord.parse(r).subxacts().length > 10).findFirst().orElseThrow();
        WalRecord create = records.stream().filter(r -> r.rmid() == RmgrId.RM_MULTIXACT_ID && r.rmgrInfo() == 0x20)
            .findFirst().orElseThrow();
        for (WalRecord r : List.of(commit, create)) {
            for (int len : new int[] {0, 3, 11, r.mainData().length - 1}) {
                WalRecord bad = new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), r.rmid(), r.info(),
                    r.origin(), r.toplevelXid(), r.blocks(), Arrays.copyOf(r.mainData(), len), r.raw());
                RedoException e = assertThrows(RedoException.class, () -> {
                    for (SlruRedo.SlruPage p : SlruRedo.pages(bad, true)) {
                        SlruRedo.redo(bad, p.kind(), p.pageno(), new byte[8192]);
                    }
                });
                assertTrue(e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
            }
        }
    }

    /**
     * XLOG_PARAMETER_CHANGE turning track_commit_timestamp off is stored under every commit_ts
     * page (DeactivateCommitTs deletes them all): it zeroes the page. Nothing else is an SLRU
     * change of an XLOG record.
     */
    @Test
    void turningCommitTimestampsOffZeroesCommitTsPages() {
        byte[] change = new byte[28]; // xl_parameter_change: track_commit_timestamp at 25
        WalRecord off = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0, RmgrId.RM_XLOG_ID, 0x60, 0, 0,
            List.of(), change, new byte[0]);
        assertEquals(Boolean.FALSE, SlruRedo.commitTsParameter(off));
        assertEquals(List.of(), SlruRedo.pages(off, true));
        byte[] page = new byte[8192];
        Arrays.fill(page, (byte) 7);
        SlruRedo.redo(off, SlruKind.COMMIT_TS, 3, page);
        assertArrayEquals(new byte[8192], page);
        assertThrows(RedoException.class, () -> SlruRedo.redo(off, SlruKind.XACT, 3, new byte[8192]));
        byte[] onChange = change.clone();
        onChange[25] = 1;
        WalRecord on = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0, RmgrId.RM_XLOG_ID, 0x60, 0, 0,
            List.of(), onChange, new byte[0]);
        assertEquals(Boolean.TRUE, SlruRedo.commitTsParameter(on));
        assertThrows(RedoException.class, () -> SlruRedo.redo(on, SlruKind.COMMIT_TS, 3, new byte[8192]));
    }

    @Test
    void truncationsNameTheFirstPageKept() {
        java.util.function.BiFunction<Integer, byte[], WalRecord> rec = (rmidInfo, main) -> new WalRecord(
            Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0, rmidInfo >> 8, rmidInfo & 0xFF, 0, 0, List.of(), main,
            new byte[0]);
        java.nio.ByteBuffer clog = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putInt(64).putInt(64 * 32768).putInt(5);
        assertEquals(List.of(new SlruRedo.Truncation(SlruKind.XACT, 64)),
            SlruRedo.truncations(rec.apply(RmgrId.RM_CLOG_ID << 8 | 0x10, clog.array())));
        java.nio.ByteBuffer mx = java.nio.ByteBuffer.allocate(20).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putInt(5).putInt(1).putInt(4096).putInt(1).putInt(1636 * 3 + 5);
        assertEquals(List.of(new SlruRedo.Truncation(SlruKind.MULTIXACT_OFFSETS, 2),
                new SlruRedo.Truncation(SlruKind.MULTIXACT_MEMBERS, 3)),
            SlruRedo.truncations(rec.apply(RmgrId.RM_MULTIXACT_ID << 8 | 0x30, mx.array())));
        java.nio.ByteBuffer cts = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putInt(9).putInt(9 * 819);
        WalRecord ctsTrunc = rec.apply(RmgrId.RM_COMMIT_TS_ID << 8 | 0x10, cts.array());
        assertEquals(List.of(new SlruRedo.Truncation(SlruKind.COMMIT_TS, 9)), SlruRedo.truncations(ctsTrunc));
        assertEquals(List.of(), SlruRedo.pages(ctsTrunc, true), "a truncation changes no page");
        assertThrows(RedoException.class, () -> SlruRedo.truncations(rec.apply(RmgrId.RM_MULTIXACT_ID << 8 | 0x30,
            new byte[19])));
        assertEquals(List.of(), SlruRedo.truncations(rec.apply(RmgrId.RM_CLOG_ID << 8, new byte[4])));
    }

    /**
     * A commit under a replication origin: the entry gets the record's origin id and the
     * origin's timestamp, or the commit's own time when the origin timestamp is 0 (what the
     * primary stores: RecordTransactionCommit falls back to xactStopTimestamp after writing the
     * record).
     */
    @Test
    void commitTimestampsUnderAnOrigin() {
        for (long originTs : new long[] {0, 987654321L}) {
            byte[] main = java.nio.ByteBuffer.allocate(8 + 4 + 16).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(123456789L).putInt(1 << 5).putLong(0x1234).putLong(originTs).array();
            WalRecord commit = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 819 + 5, RmgrId.RM_XACT_ID,
                0x80, 7, 0, List.of(), main, new byte[0]);
            assertEquals(List.of(new SlruRedo.SlruPage(SlruKind.XACT, 0, false),
                new SlruRedo.SlruPage(SlruKind.COMMIT_TS, 1, false)), SlruRedo.pages(commit, true));
            byte[] page = new byte[8192];
            SlruRedo.redo(commit, SlruKind.COMMIT_TS, 1, page);
            java.nio.ByteBuffer p = java.nio.ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertEquals(originTs == 0 ? 123456789L : originTs, p.getLong(5 * 10));
            assertEquals(7, p.getShort(5 * 10 + 8), "RepOriginId from the record header");
            byte[] untouched = new byte[8192];
            System.arraycopy(page, 0, untouched, 0, 50);
            System.arraycopy(page, 60, untouched, 60, 8192 - 60);
            assertArrayEquals(new byte[8192], untouched, "only the xid's 10 bytes");
        }
    }

    /**
     * Every parser against short and random main data: a page list and page changes, or a
     * RedoException naming the record's LSN, never anything else (an IndexOutOfBounds or a
     * NegativeArraySize would take a redo worker down with a useless message).
     */
    @Test
    void shortAndRandomMainDataOfEveryParser() {
        int[][] types = {{RmgrId.RM_CLOG_ID, 0x00}, {RmgrId.RM_CLOG_ID, 0x10}, {RmgrId.RM_COMMIT_TS_ID, 0x00},
            {RmgrId.RM_COMMIT_TS_ID, 0x10}, {RmgrId.RM_MULTIXACT_ID, 0x00}, {RmgrId.RM_MULTIXACT_ID, 0x10},
            {RmgrId.RM_MULTIXACT_ID, 0x20}, {RmgrId.RM_MULTIXACT_ID, 0x30}, {RmgrId.RM_XACT_ID, 0x00},
            {RmgrId.RM_XACT_ID, 0x80}, {RmgrId.RM_XACT_ID, 0xA0}, {RmgrId.RM_XACT_ID, 0xB0}, {RmgrId.RM_XACT_ID, 0xC0},
            {RmgrId.RM_XLOG_ID, 0x60}};
        java.util.Random rnd = new java.util.Random(15);
        int refused = 0;
        int applied = 0;
        for (int i = 0; i < 30000; i++) {
            int[] t = types[rnd.nextInt(types.length)];
            byte[] m = new byte[i < 2000 ? i % 4 : rnd.nextInt(64)];
            rnd.nextBytes(m);
            if (m.length >= 12 && rnd.nextBoolean()) {
                m[8] = (byte) rnd.nextInt(0x200); // a plausible xinfo, small counts
                m[9] = (byte) rnd.nextInt(2);
                m[10] = 0;
                m[11] = 0;
                if (m.length >= 16) {
                    m[13] = 0;
                    m[14] = 0;
                    m[15] = 0;
                }
            }
            WalRecord r = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 1 + rnd.nextInt(1000), t[0], t[1], 0, 0,
                List.of(), m, new byte[0]);
            try {
                for (SlruRedo.SlruPage p : SlruRedo.pages(r, true)) {
                    SlruRedo.redo(r, p.kind(), p.pageno(), new byte[8192]);
                    applied++;
                }
                SlruRedo.truncations(r);
                SlruRedo.commitTsParameter(r);
            } catch (RedoException e) {
                assertTrue(e.getMessage().endsWith(" at 0/100"), e.getMessage());
                refused++;
            }
        }
        assertTrue(refused > 1000 && applied > 1000, refused + " refused, " + applied + " page changes");
        // every ZEROPAGE shorter than its page number is refused
        for (int[] t : new int[][] {{RmgrId.RM_CLOG_ID, 0x00}, {RmgrId.RM_COMMIT_TS_ID, 0x00},
            {RmgrId.RM_MULTIXACT_ID, 0x00}, {RmgrId.RM_MULTIXACT_ID, 0x10}}) {
            for (int len = 0; len < 4; len++) {
                WalRecord r = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 0, t[0], t[1], 0, 0, List.of(),
                    new byte[len], new byte[0]);
                assertThrows(RedoException.class, () -> SlruRedo.pages(r, true));
            }
        }
    }

    @Test
    void segmentFileNamesAndPseudoRelations() {
        assertEquals(new SlruKind.SegmentFile(SlruKind.XACT, 0), SlruKind.parseSegment("pg_xact/0000"));
        assertEquals(new SlruKind.SegmentFile(SlruKind.MULTIXACT_MEMBERS, 26 * 32),
            SlruKind.parseSegment("pg_multixact/members/001A"));
        assertEquals(null, SlruKind.parseSegment("pg_xact/00zz"));
        assertEquals(null, SlruKind.parseSegment("pg_multixact/offsets/0000.tmp"));
        assertEquals(null, SlruKind.parseSegment("base/5/1259"));
        for (SlruKind k : SlruKind.values()) {
            assertEquals(k, SlruKind.fromRel(k.rel()));
        }
        assertEquals(null, SlruKind.fromRel(new org.pageserver.protocol.RelTag(1663, 5, 1, org.pageserver.protocol.ForkNumber.MAIN)));
    }
}
