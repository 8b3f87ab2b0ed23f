package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Hash index redo on real PG15 WAL (src/test/resources/redo/hash/make-fixture.sh: a primary with
 * wal_consistency_checking = 'hash' running a workload of every Hash record type), replayed
 * against the primary's own page images; and every decoder and the ingest check against
 * truncated, misnumbered and random records.
 */
class HashRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/hash");
    static WalFixture fixture;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
    }

    static List<WalRecord> hash() {
        return fixture.of(RmgrId.RM_HASH_ID);
    }

    static WalRecord first(int op, java.util.function.Predicate<WalRecord> also) {
        return hash().stream().filter(r -> r.rmgrInfo() == op && also.test(r)).findFirst().orElseThrow();
    }

    /**
     * Every record replayed from the first state of each page (its initialization or image) on;
     * each page the primary sent an image of equals our redo of it after hash_mask. The counts
     * are the fixture's: SPLIT_PAGE's only image is the page itself (REGBUF_FORCE_IMAGE), so
     * there is nothing to compare it with.
     */
    @Test
    void replayEqualsThePrimarysImagesForEveryRecordType() {
        ConsistencyChecker c = fixture.check();
        assertEquals(List.of(), c.mismatches);
        Map<String, Integer> perType = new TreeMap<>();
        hash().forEach(r -> perType.merge(HashXlog.identify(r.info()), 1, Integer::sum));
        System.out.println("HashRedoTest: Hash records " + perType + ", images compared " + c.checked);
        assertEquals(Map.ofEntries(Map.entry("INIT_META_PAGE", 5), Map.entry("INIT_BITMAP_PAGE", 5),
            Map.entry("INSERT", 4852), Map.entry("ADD_OVFL_PAGE", 9), Map.entry("SPLIT_ALLOCATE_PAGE", 9),
            Map.entry("SPLIT_PAGE", 11), Map.entry("SPLIT_COMPLETE", 9), Map.entry("MOVE_PAGE_CONTENTS", 1),
            Map.entry("SQUEEZE_PAGE", 5), Map.entry("DELETE", 85), Map.entry("SPLIT_CLEANUP", 9),
            Map.entry("UPDATE_META_PAGE", 2), Map.entry("VACUUM_ONE_PAGE", 1)), perType);
        assertEquals(Map.ofEntries(Map.entry("Hash/0x0", 5), Map.entry("Hash/0x10", 10), Map.entry("Hash/0x20", 2164),
            Map.entry("Hash/0x30", 9), Map.entry("Hash/0x40", 9), Map.entry("Hash/0x60", 6), Map.entry("Hash/0x70", 2),
            Map.entry("Hash/0x80", 15), Map.entry("Hash/0x90", 85), Map.entry("Hash/0xa0", 3), Map.entry("Hash/0xb0", 2),
            Map.entry("Hash/0xc0", 2)), c.checked);
    }

    /**
     * The metapages initialized from each INIT_META_PAGE's estimate: 64 buckets (fill factor
     * 10) and 8 for the two indexes created on empty tables (taken for ten pages of rows), 2
     * for the concurrent rebuild over 300 rows, 1024 over "300000 rows", 2 for the unlogged one.
     */
    @Test
    void initialBucketCountsFollowTheEstimate() {
        List<Integer> maxBuckets = new ArrayList<>();
        for (WalRecord r : hash()) {
            if (r.rmgrInfo() == HashXlog.XLOG_HASH_INIT_META_PAGE) {
                byte[] page = new byte[Page.BLCKSZ];
                WalRedo.redoBlock(r, 0, page);
                maxBuckets.add(Page.u32(page, HashPage.HASHM_MAXBUCKET));
            }
        }
        assertEquals(List.of(63, 7, 1, 1023, 1), maxBuckets);
    }

    /** _hash_spareindex and _hash_get_totalbuckets: the phase holding bucket n ends at or past n, the one before it not. */
    @Test
    void splitpointPhases() {
        for (int n = 1; n <= 1 << 20; n += n < 5000 ? 1 : 997) {
            int phase = HashPage.spareIndex(n);
            assertTrue(HashPage.getTotalBuckets(phase) >= n, "phase " + phase + " of " + n);
            assertTrue(phase == 0 || HashPage.getTotalBuckets(phase - 1) < n, "phase " + phase + " of " + n);
        }
        assertEquals(13, HashPage.spareIndex(1024)); // the last of group 10's four phases
        assertEquals(1024 + 256, HashPage.getTotalBuckets(14));
    }

    /** The init fork of the unlogged index: its metapage and bitmap page are rebuilt too. */
    @Test
    void theUnloggedIndexsInitForkIsRedone() {
        long initForkBlocks = hash().stream().flatMap(r -> r.blocks().stream())
            .filter(b -> b.rel().fork() == ForkNumber.INIT).count();
        assertEquals(3, initForkBlocks, "INIT_META_PAGE's metapage, INIT_BITMAP_PAGE's bitmap page and metapage");
    }

    /** Cleanup-lock-only blocks are not changed and keep their LSN; the others get the record's. */
    @Test
    void aBlockReadOnlyForItsCleanupLockKeepsItsLsn() {
        WalRecord del = first(HashXlog.XLOG_HASH_DELETE, r -> r.block(0) != null);
        byte[] page = new byte[Page.BLCKSZ];
        HashPage.initBuf(page, 3, 1, HashPage.LH_BUCKET_PAGE);
        Page.setLsn(page, 0x10);
        byte[] before = page.clone();
        WalRedo.redoBlock(del, 0, page);
        assertTrue(Arrays.equals(before, page), "the primary bucket page of a DELETE of its overflow page");
    }

    // ---- garbage ----

    static WalRecord with(WalRecord r, byte[] main, List<BlockRef> blocks) {
        return WalFixture.with(r, r.info(), blocks, main);
    }

    /** {@code r} with its block of the same id replaced by {@code b}. */
    static WalRecord withBlock(WalRecord r, BlockRef b) {
        List<BlockRef> blocks = new ArrayList<>(r.blocks());
        blocks.set(blocks.indexOf(r.block(b.blockId())), b);
        return with(r, r.mainData(), blocks);
    }

    static BlockRef withData(BlockRef b, byte[] data) {
        int flags = data == null ? b.forkFlags() & ~BlockRef.BKPBLOCK_HAS_DATA : b.forkFlags() | BlockRef.BKPBLOCK_HAS_DATA;
        return new BlockRef(b.blockId(), b.rel(), b.blkno(), flags, false, false, 0, 0, 0, null, data);
    }

    static void assertMalformed(WalRecord r, String... contains) {
        RedoException e = assertThrows(RedoException.class, () -> HashXlog.check(r));
        assertTrue(e.getMessage().startsWith("malformed Hash " + HashXlog.identify(r.info()) + " record: "),
            e.getMessage());
        assertTrue(e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
        for (String s : contains) {
            assertTrue(e.getMessage().contains(s), e.getMessage() + " should say " + s);
        }
    }

    static final Map<Integer, Integer> STRUCT_SIZES = Map.ofEntries(Map.entry(0x00, 14), Map.entry(0x10, 2),
        Map.entry(0x20, 2), Map.entry(0x30, 3), Map.entry(0x40, 9), Map.entry(0x60, 4), Map.entry(0x70, 3),
        Map.entry(0x80, 12), Map.entry(0x90, 2), Map.entry(0xB0, 8), Map.entry(0xC0, 8));

    /** Every record type's main data cut short of its struct: refused by the check and by redo. */
    @Test
    void mainDataShorterThanItsStructIsRefused() {
        for (Map.Entry<Integer, Integer> t : STRUCT_SIZES.entrySet()) {
            WalRecord r = first(t.getKey(), x -> true);
            assertDoesNotThrow(() -> HashXlog.check(r));
            for (int len = 0; len < t.getValue(); len++) {
                WalRecord cut = with(r, Arrays.copyOf(r.mainData(), len), r.blocks());
                assertMalformed(cut, "main data of " + len + " bytes, at least " + t.getValue() + " needed");
                for (BlockRef b : cut.blocks()) {
                    if (!(b.hasImage() && b.applyImage())) {
                        byte[] page = new byte[Page.BLCKSZ];
                        HashPage.initBuf(page, 0, 0, HashPage.LH_BUCKET_PAGE);
                        assertThrows(RedoException.class, () -> WalRedo.redoBlock(cut, b.blockId(), page),
                            HashXlog.identify(cut.info()) + " block " + b.blockId());
                    }
                }
            }
        }
    }

    @Test
    void vacuumOnePageShortOfTheOffsetsItCountsIsRefused() {
        WalRecord r = first(HashXlog.XLOG_HASH_VACUUM_ONE_PAGE, x -> true);
        int n = Page.u32(r.mainData(), 4);
        assertTrue(n > 1 && r.mainData().length == 8 + 2 * n, "ntuples " + n);
        assertMalformed(with(r, Arrays.copyOf(r.mainData(), r.mainData().length - 2), r.blocks()),
            n + " offsets announced");
        byte[] negative = r.mainData().clone();
        Page.put32(negative, 4, -1);
        assertMalformed(with(r, negative, r.blocks()), "ntuples -1");
    }

    /** A block the redo routine reads missing, or one it does not know, is refused. */
    @Test
    void missingAndUnexpectedBlocksAreRefused() {
        for (int op = 0; op <= 0xC0; op += 0x10) {
            WalRecord r = first(op, x -> true);
            for (BlockRef b : r.blocks()) {
                boolean optional = (op == HashXlog.XLOG_HASH_ADD_OVFL_PAGE && (b.blockId() == 2 || b.blockId() == 3))
                    || (op == HashXlog.XLOG_HASH_SQUEEZE_PAGE && (b.blockId() == 4 || b.blockId() == 6));
                if (optional) {
                    continue;
                }
                List<BlockRef> less = new ArrayList<>(r.blocks());
                less.remove(b);
                assertMalformed(with(r, r.mainData(), less), "no block " + b.blockId());
            }
            List<BlockRef> more = new ArrayList<>(r.blocks());
            BlockRef any = r.blocks().get(0);
            more.add(new BlockRef(9, any.rel(), 77, 0, false, false, 0, 0, 0, null, null));
            assertMalformed(with(r, r.mainData(), more), "unexpected block 9");
            byte[] page = new byte[Page.BLCKSZ];
            HashPage.initBuf(page, 0, 0, HashPage.LH_BUCKET_PAGE);
            assertThrows(RedoException.class, () -> WalRedo.redoBlock(with(r, r.mainData(), more), 9, page));
        }
    }

    /** Block data shorter than what the main data announces, for each block whose data redo reads. */
    @Test
    void blockDataShorterThanAnnouncedIsRefused() {
        record Case(int op, java.util.function.Predicate<WalRecord> which, int blockId, int[] lengths) {
        }
        List<Case> cases = List.of(
            new Case(HashXlog.XLOG_HASH_INSERT, r -> true, 0, new int[] {0, 1, 7}),
            new Case(HashXlog.XLOG_HASH_ADD_OVFL_PAGE, r -> true, 0, new int[] {0, 1, 3}),
            new Case(HashXlog.XLOG_HASH_ADD_OVFL_PAGE, r -> r.block(2) != null, 2, new int[] {0, 1, 3}),
            new Case(HashXlog.XLOG_HASH_ADD_OVFL_PAGE, r -> true, 4, new int[] {0, 1, 3}),
            new Case(HashXlog.XLOG_HASH_SPLIT_ALLOCATE_PAGE, r -> (r.mainData()[8] & 3) != 0, 2, new int[] {0, 1, -1}),
            new Case(HashXlog.XLOG_HASH_MOVE_PAGE_CONTENTS, r -> true, 1, new int[] {0, 1, 100, -1}),
            new Case(HashXlog.XLOG_HASH_SQUEEZE_PAGE, r -> Page.u16(r.mainData(), 8) > 0, 1, new int[] {0, 1, 100, -1}),
            new Case(HashXlog.XLOG_HASH_SQUEEZE_PAGE, r -> true, 5, new int[] {0, 1, 3}),
            new Case(HashXlog.XLOG_HASH_SQUEEZE_PAGE, r -> r.block(6) != null, 6, new int[] {0, 1, 3}));
        for (Case c : cases) {
            WalRecord r = first(c.op(), c.which());
            BlockRef b = r.block(c.blockId());
            byte[] d = b.data();
            for (int len : c.lengths()) {
                int n = len < 0 ? d.length + len : len;
                assertMalformed(withBlock(r, withData(b, n == 0 ? null : Arrays.copyOf(d, n))), "block " + c.blockId());
            }
        }
        // offsets are u16: DELETE's and MOVE_PAGE_CONTENTS's of odd length
        for (int[] t : new int[][] {{HashXlog.XLOG_HASH_DELETE, 1}, {HashXlog.XLOG_HASH_MOVE_PAGE_CONTENTS, 2}}) {
            WalRecord r = first(t[0], x -> true);
            BlockRef b = r.block(t[1]);
            assertMalformed(withBlock(r, withData(b, Arrays.copyOf(b.data(), b.data().length - 1))), "odd length");
        }
        // tuples the count does not match: one more (its last tuple twice), one fewer
        WalRecord move = first(HashXlog.XLOG_HASH_MOVE_PAGE_CONTENTS, x -> true);
        byte[] d = move.block(1).data();
        List<HashXlog.MovedTuple> tuples = HashXlog.movedTuples(move, Page.u16(move.mainData(), 0));
        HashXlog.MovedTuple last = tuples.get(tuples.size() - 1);
        byte[] twice = Arrays.copyOf(d, d.length + last.size());
        System.arraycopy(d, last.start(), twice, d.length, last.size());
        assertMalformed(withBlock(move, withData(move.block(1), twice)),
            "more than the " + tuples.size() + " tuples announced");
        assertMalformed(withBlock(move, withData(move.block(1), Arrays.copyOf(d, last.start()))),
            "holds " + (tuples.size() - 1) + " of the " + tuples.size());
    }

    @Test
    void aSplitPageWithoutItsImageIsRefused() {
        WalRecord r = first(HashXlog.XLOG_HASH_SPLIT_PAGE, x -> true);
        assertDoesNotThrow(() -> HashXlog.check(r));
        BlockRef b = r.block(0);
        WalRecord bare = with(r, r.mainData(), List.of(withData(b, null)));
        assertMalformed(bare, "no full-page image");
        RedoException e = assertThrows(RedoException.class, () -> WalRedo.redoBlock(bare, 0, new byte[Page.BLCKSZ]));
        assertTrue(e.getMessage().contains("did not contain a full-page image"), e.getMessage());
    }

    @Test
    void unknownRecordTypesAreRefused() {
        WalRecord r = first(HashXlog.XLOG_HASH_INSERT, x -> true);
        for (int info : new int[] {0xD0, 0xE0, 0xF0}) {
            WalRecord bad = new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), r.rmid(), info, 0, 0,
                r.blocks(), r.mainData(), r.raw());
            RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(bad));
            assertEquals("unknown Hash record type (xl_info 0x" + Integer.toHexString(info) + ") at " + r.startLsn(),
                e.getMessage());
            assertThrows(RedoException.class, () -> WalRedo.redoBlock(bad, 0, new byte[Page.BLCKSZ]));
        }
    }

    /** The highest block id of each record type. */
    static final Map<Integer, Integer> MAX_BLOCK_ID = Map.ofEntries(Map.entry(0x00, 0), Map.entry(0x10, 1),
        Map.entry(0x20, 1), Map.entry(0x30, 4), Map.entry(0x40, 2), Map.entry(0x50, 0), Map.entry(0x60, 1),
        Map.entry(0x70, 2), Map.entry(0x80, 6), Map.entry(0x90, 1), Map.entry(0xA0, 0), Map.entry(0xB0, 0),
        Map.entry(0xC0, 1));

    /**
     * Random main data, block data and pages for every record type: the check and the redo of
     * each block either pass or throw a RedoException naming the LSN, never anything else.
     */
    @Test
    void randomRecordsAndPagesOnlyEverGiveRedoExceptions() {
        Random rnd = new Random(12);
        RelTag rel = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
        List<byte[]> realPages = new ArrayList<>();
        for (WalRecord r : hash()) {
            for (BlockRef b : r.blocks()) {
                if (b.hasImage() && realPages.size() < 200 && rnd.nextInt(20) == 0) {
                    realPages.add(b.restoreImage(r.startLsn()));
                }
            }
        }
        Function<Integer, byte[]> bytes = n -> {
            byte[] b = new byte[n];
            rnd.nextBytes(b);
            if (rnd.nextBoolean()) { // small counts are more interesting than huge ones
                for (int i = 1; i < n; i += 2) {
                    b[i] = 0;
                }
            }
            return b;
        };
        int refused = 0;
        int redone = 0;
        for (int i = 0; i < 8000; i++) {
            int op = rnd.nextInt(14) << 4;
            // mostly the block ids the type has, sometimes one more
            int maxId = MAX_BLOCK_ID.getOrDefault(op, 2) + (rnd.nextInt(20) == 0 ? 1 : 0);
            List<BlockRef> blocks = new ArrayList<>();
            for (int id = 0; id <= maxId; id++) {
                if (rnd.nextInt(6) > 0) {
                    byte[] d = rnd.nextInt(4) == 0 ? null : bytes.apply(rnd.nextInt(40));
                    int flags = (d == null ? 0 : BlockRef.BKPBLOCK_HAS_DATA) | (rnd.nextInt(4) == 0 ? BlockRef.BKPBLOCK_WILL_INIT : 0);
                    blocks.add(new BlockRef(id, rel, rnd.nextInt(100), flags, false, false, 0, 0, 0, null, d));
                }
            }
            WalRecord r = new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 1, RmgrId.RM_HASH_ID, op, 0, 0,
                List.copyOf(blocks), bytes.apply(rnd.nextInt(24)), new byte[0]);
            try {
                RecordCheck.check(r);
            } catch (RedoException e) {
                assertTrue(e.getMessage().endsWith(" at 0/100"), e.getMessage());
                refused++;
            }
            for (BlockRef b : blocks) {
                byte[] page = switch (rnd.nextInt(3)) {
                    case 0 -> bytes.apply(Page.BLCKSZ);
                    case 1 -> realPages.get(rnd.nextInt(realPages.size())).clone();
                    default -> new byte[Page.BLCKSZ];
                };
                Page.setLsn(page, 0);
                try {
                    WalRedo.redoBlock(r, b.blockId(), page);
                    redone++;
                } catch (RedoException e) {
                    assertTrue(e.getMessage().endsWith(" at 0/100"), e.getMessage());
                }
            }
        }
        System.out.println("HashRedoTest: random records: " + refused + " refused, " + redone + " blocks redone");
        assertTrue(refused > 2000 && redone > 200, refused + " refused, " + redone + " blocks redone");
    }
}
