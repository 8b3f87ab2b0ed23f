package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * GIN redo on real PG15 WAL (src/test/resources/redo/gin/make-fixture.sh): a primary with
 * wal_consistency_checking on Gin and full_page_writes off, so that every Gin page change but
 * the images Gin forces (splits, entry page vacuum) is redone here and compared with
 * PostgreSQL's own after-image, masked by gin_mask. Then garbage: truncated and wrong records
 * are RedoExceptions naming their LSN, and random bytes never anything else.
 */
class GinRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/gin");
    static WalFixture fixture;
    static ConsistencyChecker checker;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
        checker = fixture.check();
    }

    static List<WalRecord> gin() {
        return fixture.of(RmgrId.RM_GIN_ID);
    }

    @Test
    void everyGinPageChangeEqualsItsConsistencyImage() {
        System.out.println("GinRedoTest: images compared " + checker.checked + ", records " + checker.records);
        assertEquals(List.of(), checker.mismatches);
        // Gin/0x40 (VACUUM_PAGE) has only its image to apply: nothing is compared for it
        Map<String, Integer> gin = new TreeMap<>();
        checker.checked.forEach((t, n) -> {
            if (t.startsWith("Gin/")) {
                gin.put(t, n);
            }
        });
        assertEquals(Map.of("Gin/0x10", 1, "Gin/0x20", 2802, "Gin/0x30", 6, "Gin/0x50", 9, "Gin/0x60", 1005,
            "Gin/0x70", 8, "Gin/0x80", 8, "Gin/0x90", 5), gin);
    }

    /** The variant of a Gin record that decides which path of its redo routine runs. */
    static String variant(WalRecord r) {
        byte[] m = r.mainData();
        return switch (r.rmgrInfo()) {
            case GinXlog.XLOG_GIN_INSERT -> {
                int f = Page.u16(m, 0);
                String s = "INSERT " + ((f & GinXlog.GIN_INSERT_ISDATA) != 0 ? "data " : "entry ")
                    + ((f & GinXlog.GIN_INSERT_ISLEAF) != 0 ? "leaf" : "internal");
                byte[] d = r.block(0).data();
                yield (f & 3) == 2 && d != null && d[2] != 0 ? s + " isDelete" : s;
            }
            case GinXlog.XLOG_GIN_SPLIT -> {
                int f = Page.u16(m, 24);
                yield "SPLIT " + ((f & GinXlog.GIN_SPLIT_ROOT) != 0 ? "root " : "") + ((f & 1) != 0 ? "data " : "entry ")
                    + ((f & 2) != 0 ? "leaf" : "internal");
            }
            case GinXlog.XLOG_GIN_UPDATE_META_PAGE -> "UPDATE_META_PAGE " + (Page.u32(m, 80) > 0 ? "tail insert"
                : Page.u32(m, 72) != GinXlog.INVALID_BLOCK_NUMBER ? "new tail" : "metapage only");
            case GinXlog.XLOG_GIN_INSERT_LISTPAGE -> "INSERT_LISTPAGE "
                + (Page.u32(m, 0) == GinXlog.INVALID_BLOCK_NUMBER ? "sublist tail" : "with right link");
            default -> GinXlog.name(r.rmgrInfo());
        };
    }

    /**
     * Every path of gin_redo ran on the fixture with an image to compare its result with. A
     * split of a leaf has none: its pages are all images to apply, only the child of an
     * internal split (block 3) is redone.
     */
    @Test
    void everyPathOfTheRedoRoutinesIsCompared() {
        Map<String, Integer> compared = new TreeMap<>();
        for (WalRecord r : gin()) {
            if (r.blocks().stream().anyMatch(b -> b.hasImage() && !b.applyImage())) {
                compared.merge(variant(r), 1, Integer::sum);
            }
        }
        System.out.println("GinRedoTest: records with images compared, per variant " + compared);
        for (String v : List.of("CREATE_PTREE", "INSERT entry leaf", "INSERT entry leaf isDelete", "INSERT entry internal",
            "INSERT data leaf", "INSERT data internal", "SPLIT entry internal", "SPLIT root entry internal", "DELETE_PAGE",
            "VACUUM_DATA_LEAF_PAGE",
            "UPDATE_META_PAGE tail insert", "UPDATE_META_PAGE new tail", "UPDATE_META_PAGE metapage only",
            "INSERT_LISTPAGE sublist tail", "INSERT_LISTPAGE with right link", "DELETE_LISTPAGE")) {
            assertTrue(compared.containsKey(v), v + " not compared: " + compared);
        }
    }

    static final Pattern STATS = Pattern.compile("^Gin/(\\S+)\\s+(\\d+)", Pattern.MULTILINE);

    @Test
    void everyGinRecordTypeIsThereAsPgWaldumpCountsIt() throws IOException {
        Map<String, Integer> expected = new TreeMap<>();
        Matcher m = STATS.matcher(Files.readString(DIR.resolve("pg_waldump-stats.txt")));
        while (m.find()) {
            expected.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        Map<String, Integer> decoded = new TreeMap<>();
        for (WalRecord r : gin()) {
            decoded.merge(GinXlog.name(r.rmgrInfo()), 1, Integer::sum);
        }
        assertEquals(9, expected.size(), expected.toString());
        assertEquals(expected, decoded);
    }

    // ---- garbage ----

    static WalRecord withMain(WalRecord r, byte[] main) {
        return WalFixture.with(r, r.info(), r.blocks(), main);
    }

    static WalRecord withBlocks(WalRecord r, List<BlockRef> blocks) {
        return WalFixture.with(r, r.info(), blocks, r.mainData());
    }

    static BlockRef withData(BlockRef b, byte[] data) {
        return WalFixture.with(b, b.forkFlags(), data);
    }

    /** The first Gin record of the fixture of that type for which {@code which} holds. */
    static WalRecord first(int info, java.util.function.Predicate<WalRecord> which) {
        return gin().stream().filter(r -> r.rmgrInfo() == info && which.test(r)).findFirst().orElseThrow();
    }

    static void assertMalformed(WalRecord bad, String what) {
        RedoException e = assertThrows(RedoException.class, () -> GinXlog.check(bad));
        assertTrue(e.getMessage().startsWith("malformed Gin ") && e.getMessage().contains(what)
            && e.getMessage().endsWith(" at " + bad.startLsn()), e.getMessage());
    }

    /** Every parser: main data one byte short of what it reads. */
    @Test
    void truncatedMainDataIsMalformed() {
        Map<Integer, Integer> reads = Map.of(GinXlog.XLOG_GIN_SPLIT, 26, GinXlog.XLOG_GIN_DELETE_PAGE, 12,
            GinXlog.XLOG_GIN_UPDATE_META_PAGE, 84, GinXlog.XLOG_GIN_INSERT_LISTPAGE, 8,
            GinXlog.XLOG_GIN_DELETE_LISTPAGE, 60);
        reads.forEach((info, n) -> assertMalformed(withMain(first(info, r -> true), new byte[n - 1]), "main data of " + (n - 1)));
        WalRecord ptree = first(GinXlog.XLOG_GIN_CREATE_PTREE, r -> true);
        assertMalformed(withMain(ptree, new byte[3]), "main data of 3 bytes");
        assertMalformed(withMain(ptree, Arrays.copyOf(ptree.mainData(), ptree.mainData().length - 1)), "main data");
        WalRecord internal = first(GinXlog.XLOG_GIN_INSERT, r -> (r.mainData()[0] & GinXlog.GIN_INSERT_ISLEAF) == 0);
        assertMalformed(withMain(internal, Arrays.copyOf(internal.mainData(), 9)), "main data of 9 bytes, at least 10");
        assertMalformed(withMain(internal, new byte[1]), "main data of 1 bytes, at least 2");
        for (WalRecord r : gin()) {
            if (r.rmgrInfo() != GinXlog.XLOG_GIN_VACUUM_PAGE && r.rmgrInfo() != GinXlog.XLOG_GIN_VACUUM_DATA_LEAF_PAGE) {
                WalRecord bad = withMain(r, new byte[0]);
                assertThrows(RedoException.class, () -> GinXlog.check(bad), r.toString());
            }
        }
    }

    /** Block data short of what the main data (or the data's own counts) announce, per kind of block data. */
    @Test
    void truncatedBlockDataIsMalformed() {
        Function<WalRecord, WalRecord> cutBlock0 = r -> {
            List<BlockRef> blocks = new ArrayList<>(r.blocks());
            BlockRef b = r.block(0);
            blocks.set(blocks.indexOf(b), withData(b, Arrays.copyOf(b.data(), b.data().length - 1)));
            return withBlocks(r, blocks);
        };
        int isdata = GinXlog.GIN_INSERT_ISDATA;
        int isleaf = GinXlog.GIN_INSERT_ISLEAF;
        assertMalformed(cutBlock0.apply(first(GinXlog.XLOG_GIN_INSERT, r -> (r.mainData()[0] & isdata) == 0)),
            "holds no index tuple");
        assertMalformed(cutBlock0.apply(first(GinXlog.XLOG_GIN_INSERT, r -> (r.mainData()[0] & (isdata | isleaf)) == isdata)),
            "block 0 data of 11 bytes, at least 12");
        WalRecord leaf = first(GinXlog.XLOG_GIN_INSERT, r -> (r.mainData()[0] & (isdata | isleaf)) == (isdata | isleaf));
        assertMalformed(cutBlock0.apply(leaf), "segment action");
        assertMalformed(cutBlock0.apply(first(GinXlog.XLOG_GIN_VACUUM_DATA_LEAF_PAGE, r -> true)), "segment action");
        assertMalformed(cutBlock0.apply(first(GinXlog.XLOG_GIN_INSERT_LISTPAGE, r -> true)), "block 0 data");
        WalRecord tail = first(GinXlog.XLOG_GIN_UPDATE_META_PAGE, r -> Page.u32(r.mainData(), 80) > 0);
        List<BlockRef> blocks = new ArrayList<>(tail.blocks());
        blocks.set(1, withData(tail.block(1), Arrays.copyOf(tail.block(1).data(), tail.block(1).data().length - 1)));
        assertMalformed(withBlocks(tail, blocks), "block 1 data");
        // a segment action of an unknown type
        byte[] d = leaf.block(0).data().clone();
        d[3] = 9;
        List<BlockRef> unknown = new ArrayList<>(leaf.blocks());
        unknown.set(0, withData(leaf.block(0), d));
        assertMalformed(withBlocks(leaf, unknown), "unexpected GIN leaf action 9");
    }

    /** Every block gin_redo reads, taken away or renumbered, is refused; so are unknown types. */
    @Test
    void missingOrWrongBlocksAreMalformed() {
        int tested = 0;
        for (WalRecord r : gin()) {
            for (BlockRef b : r.blocks()) {
                List<BlockRef> without = new ArrayList<>(r.blocks());
                without.remove(b);
                WalRecord bad = withBlocks(r, without);
                boolean read = r.rmgrInfo() != GinXlog.XLOG_GIN_SPLIT || b.blockId() != 2
                    || (Page.u16(r.mainData(), 24) & GinXlog.GIN_SPLIT_ROOT) != 0;
                if (read) {
                    assertMalformed(bad, "block " + b.blockId());
                    List<BlockRef> renumbered = new ArrayList<>(without);
                    renumbered.add(new BlockRef(20, b.rel(), b.blkno(), b.forkFlags(), b.hasImage(), b.applyImage(),
                        b.bimgInfo(), b.holeOffset(), b.holeLength(), b.imageData(), b.data()));
                    assertMalformed(withBlocks(r, renumbered), "block " + b.blockId());
                    tested++;
                }
            }
        }
        assertTrue(tested > 1000, "blocks tested " + tested);
        // a split page or vacuumed entry page without its image, a list page not marked WILL_INIT
        WalRecord split = first(GinXlog.XLOG_GIN_SPLIT, r -> true);
        List<BlockRef> noImage = new ArrayList<>(split.blocks());
        BlockRef left = split.block(0);
        noImage.set(0, new BlockRef(0, left.rel(), left.blkno(), left.forkFlags(), false, false, 0, 0, 0, null, null));
        assertMalformed(withBlocks(split, noImage), "block 0 has no full-page image to restore");
        WalRecord list = first(GinXlog.XLOG_GIN_INSERT_LISTPAGE, r -> true);
        BlockRef lb = list.block(0);
        assertMalformed(withBlocks(list, List.of(new BlockRef(0, lb.rel(), lb.blkno(), lb.forkFlags() & ~BlockRef.BKPBLOCK_WILL_INIT,
            false, false, 0, 0, 0, null, lb.data()))), "not marked WILL_INIT");
        for (int info : new int[] {0x00, 0xA0, 0xB0, 0xF0}) {
            WalRecord r = new WalRecord(split.startLsn(), split.endLsn(), 0, 0, RmgrId.RM_GIN_ID, info, 0, 0,
                split.blocks(), split.mainData(), split.raw());
            RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
            assertTrue(e.getMessage().startsWith("unknown Gin record type"), e.getMessage());
        }
    }

    /** A split's or an entry vacuum's page that reaches redo without its image is PostgreSQL's error. */
    @Test
    void pagesOnlyRestoredFromImagesAreRefusedWithoutOne() {
        for (int info : new int[] {GinXlog.XLOG_GIN_SPLIT, GinXlog.XLOG_GIN_VACUUM_PAGE}) {
            WalRecord r = first(info, x -> true);
            RedoException e = assertThrows(RedoException.class, () -> GinRedo.redo(r, 0, new byte[8192]));
            assertTrue(e.getMessage().contains("did not") && e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
        }
    }

    /**
     * Random garbage in the main data or block data of every kind of Gin record, redone on the
     * page the fixture had before it: RedoException or success, nothing else.
     */
    @Test
    void randomBytesAreOnlyEverRedoExceptions() {
        Random rnd = new Random(15);
        Map<String, byte[]> pages = new HashMap<>();
        Map<Integer, Integer> perType = new HashMap<>();
        int runs = 0;
        for (WalRecord r : fixture.records()) {
            List<BlockRef> blocks = r.blocks();
            if (r.rmid() == RmgrId.RM_GIN_ID && perType.merge(r.rmgrInfo(), 1, Integer::sum) <= 40) {
                for (int k = 0; k < 25; k++) {
                    WalRecord bad = mutate(r, rnd);
                    runs++;
                    for (BlockRef b : bad.blocks()) {
                        byte[] before = pages.get(b.rel() + "#" + b.blkno());
                        byte[] page = before == null ? new byte[8192] : before.clone();
                        // the ingest check and the redo each on their own: redo must not
                        // rely on the check having refused the record
                        for (Runnable step : List.<Runnable>of(() -> GinXlog.check(bad),
                            () -> WalRedo.redoBlock(bad, b.blockId(), page, true))) {
                            try {
                                step.run();
                            } catch (RedoException expected) {
                                // the only failure allowed
                            } catch (RuntimeException e) {
                                fail("garbage in " + ConsistencyChecker.type(r) + " at " + r.startLsn() + " gave " + e, e);
                            }
                        }
                    }
                }
            }
            for (BlockRef b : blocks) {
                if (b.hasImage()) {
                    pages.put(b.rel() + "#" + b.blkno(), b.restoreImage(r.startLsn()));
                }
            }
        }
        assertTrue(runs > 2000, "runs " + runs);
    }

    /** Records of every Gin type made of random bytes, redone on real Gin pages of the fixture. */
    @Test
    void randomRecordsOnRealPagesAreOnlyEverRedoExceptions() {
        Random rnd = new Random(16);
        List<byte[]> pages = gin().stream().flatMap(r -> r.blocks().stream().filter(BlockRef::hasImage)
            .map(b -> b.restoreImage(r.startLsn()))).limit(500).toList();
        WalRecord shell = gin().get(0);
        BlockRef b0 = shell.blocks().get(0);
        for (int i = 0; i < 20000; i++) {
            byte[] main = new byte[rnd.nextInt(100)];
            rnd.nextBytes(main);
            List<BlockRef> blocks = new ArrayList<>();
            for (int id = 0, n = rnd.nextInt(5); id < n; id++) {
                byte[] data = new byte[rnd.nextInt(60)];
                rnd.nextBytes(data);
                blocks.add(new BlockRef(id, b0.rel(), id + 1, rnd.nextBoolean() ? BlockRef.BKPBLOCK_WILL_INIT : 0, false,
                    false, 0, 0, 0, null, data));
            }
            WalRecord r = new WalRecord(shell.startLsn(), shell.endLsn(), 0, 0, RmgrId.RM_GIN_ID, (1 + rnd.nextInt(9)) << 4,
                0, 0, blocks, main, shell.raw());
            for (BlockRef b : blocks) {
                byte[] page = pages.get(rnd.nextInt(pages.size())).clone();
                try {
                    WalRedo.redoBlock(r, b.blockId(), page, true);
                } catch (RedoException expected) {
                    // the only failure allowed
                } catch (RuntimeException e) {
                    fail("random " + ConsistencyChecker.type(r) + " gave " + e, e);
                }
            }
        }
    }

    static WalRecord mutate(WalRecord r, Random rnd) {
        Function<byte[], byte[]> garble = d -> {
            if (d == null || d.length == 0) {
                byte[] n = new byte[rnd.nextInt(40)];
                rnd.nextBytes(n);
                return n;
            }
            byte[] c = rnd.nextBoolean() ? Arrays.copyOf(d, rnd.nextInt(d.length + 1)) : d.clone();
            for (int i = 0, n = 1 + rnd.nextInt(8); i < n && c.length > 0; i++) {
                c[rnd.nextInt(c.length)] = (byte) rnd.nextInt(256);
            }
            return c;
        };
        if (rnd.nextInt(3) == 0 || r.blocks().isEmpty()) {
            return withMain(r, garble.apply(r.mainData()));
        }
        List<BlockRef> blocks = new ArrayList<>();
        for (BlockRef b : r.blocks()) {
            // without an image to apply, so that the garbled data is what redo reads
            blocks.add(new BlockRef(b.blockId(), b.rel(), b.blkno(), b.forkFlags(), false, false, 0, 0, 0, null,
                rnd.nextBoolean() ? garble.apply(b.data()) : b.data()));
        }
        return withBlocks(r, blocks);
    }

    // ---- the posting list codec, against values worked out by hand ----

    @Test
    void postingListsRoundTripAndMergeAsGinDoes() {
        long[] items = {1L << 16 | 1, 1L << 16 | 2, 5L << 16 | 7, 70000L << 16 | 2047};
        byte[] seg = GinPostingList.compress(items, items.length, Page.BLCKSZ);
        // deltas (block << 11 | offset): 1, 4 * 2048 + 5 = 8197 (two bytes), 69995 * 2048 + 2040 (four)
        assertEquals(8 + Page.shortAlign(1 + 2 + 4), seg.length);
        assertEquals(0, seg[seg.length - 1]);
        assertArrayEquals(items, GinPostingList.decode(seg, 0, seg.length));
        assertArrayEquals(new long[] {1, 2, 3, 5}, GinPostingList.merge(new long[] {2, 5}, new long[] {1, 2, 3}));
        assertArrayEquals(new long[] {1, 2, 3, 4}, GinPostingList.merge(new long[] {3, 4}, new long[] {1, 2}));
        assertThrows(IllegalStateException.class, () -> GinPostingList.decode(seg, 0, seg.length - 2));
    }

    /** A pre-9.4 (uncompressed) data leaf is converted to one compressed segment before the actions apply. */
    @Test
    void uncompressedLeavesAreCompressedFirst() {
        byte[] page = new byte[8192];
        GinPage.initPage(page, GinPage.GIN_DATA | GinPage.GIN_LEAF);
        long[] items = {3L << 16 | 1, 3L << 16 | 4, 9L << 16 | 2};
        for (int i = 0; i < items.length; i++) {
            GinPostingList.putItemPointer(page, GinPage.DATA_OFFSET + 6 * i, items[i]);
        }
        GinPage.setMaxoff(page, items.length);
        GinRecompress.recompress(page, new GinXlog.GinxlogRecompressDataLeaf(List.of(
            new GinXlog.GinxlogSegmentAction(0, GinXlog.GIN_SEGMENT_ADDITEMS, null, new long[] {3L << 16 | 2}))));
        assertEquals(GinPage.GIN_DATA | GinPage.GIN_LEAF | GinPage.GIN_COMPRESSED, GinPage.flags(page));
        assertEquals(0, GinPage.maxoff(page));
        assertArrayEquals(new long[] {3L << 16 | 1, 3L << 16 | 2, 3L << 16 | 4, 9L << 16 | 2},
            GinPostingList.decode(page, GinPage.DATA_OFFSET, Page.lower(page)));
    }
}
