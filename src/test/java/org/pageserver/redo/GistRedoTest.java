package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * GiST redo on real PG15 WAL written with wal_consistency_checking = 'gist'
 * (src/test/resources/redo/gist/make-fixture.sh: every Gist record type, splits of leaves,
 * internal pages and the root, vacuum, page deletion and reuse, microvacuum, an exclusion
 * constraint, ASSIGN_LSN under wal_level = minimal): every page image equals our redo of the
 * page before it, masked as gist_mask does; and malformed records are RedoExceptions.
 */
class GistRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/gist");
    static WalFixture fixture;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
    }

    static List<WalRecord> gist(int info) {
        return fixture.of(RmgrId.RM_GIST_ID).stream().filter(r -> r.rmgrInfo() == info).toList();
    }

    @Test
    void replayEqualsTheConsistencyImagesOfEveryGistRecord() {
        ConsistencyChecker c = fixture.check();
        System.out.println("GistRedoTest: images compared " + c.checked + ", records " + c.records);
        assertEquals(List.of(), c.mismatches);
        // the fixture's counts (pg_waldump-stats.txt): far more than one of each
        assertTrue(c.checked.getOrDefault("Gist/0x0", 0) > 2500, c.checked::toString);  // PAGE_UPDATE
        assertTrue(c.checked.getOrDefault("Gist/0x10", 0) >= 9, c.checked::toString);   // DELETE
        assertTrue(c.checked.getOrDefault("Gist/0x30", 0) > 100, c.checked::toString);  // PAGE_SPLIT
        assertTrue(c.checked.getOrDefault("Gist/0x60", 0) >= 30, c.checked::toString);  // PAGE_DELETE
        assertTrue(c.unsupported.isEmpty(), c.unsupported::toString);
    }

    /** Each record type as often as pg_waldump --stats=record counted it. */
    @Test
    void everyRecordTypeIsDecodedAsOftenAsPgWaldumpCountsIt() throws IOException {
        Map<String, Integer> expected = new TreeMap<>();
        String stats = Files.readString(DIR.resolve("pg_waldump-stats.txt"));
        Matcher m = Pattern.compile("(?m)^Gist/(\\w+)\\s+(\\d+)").matcher(stats);
        while (m.find()) {
            expected.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        Map<String, Integer> decoded = new TreeMap<>();
        fixture.of(RmgrId.RM_GIST_ID).forEach(r -> decoded.merge(GistXlog.name(r.info()), 1, Integer::sum));
        assertEquals(List.of("ASSIGN_LSN", "DELETE", "PAGE_DELETE", "PAGE_REUSE", "PAGE_SPLIT", "PAGE_UPDATE"),
            List.copyOf(expected.keySet()));
        assertEquals(expected, decoded);
    }

    /**
     * gist_mask hides the NSN and F_FOLLOW_RIGHT; the split pages' NSN (the original page's) and
     * flags (F_FOLLOW_RIGHT on all but the last page outside a root split) are checked here
     * unmasked, against the images the primary took when it wrote the record.
     */
    @Test
    void splitPagesGetTheOriginalPagesNsnFlagsAndRightLinks() {
        int compared = 0;
        int followRight = 0;
        for (WalRecord r : gist(GistXlog.XLOG_GIST_PAGE_SPLIT)) {
            GistXlog.GistxlogPageSplit xlrec = GistXlog.GistxlogPageSplit.parse(r);
            for (int i = 1; i <= xlrec.npage(); i++) {
                BlockRef b = r.block(i);
                byte[] page = new byte[Page.BLCKSZ];
                WalRedo.redoBlock(r, i, page);
                byte[] image = b.restoreImage(r.startLsn());
                assertEquals(GistPage.nsn(image), GistPage.nsn(page), "NSN of block " + i + " at " + r.startLsn());
                assertEquals(GistPage.flags(image), GistPage.flags(page), "flags of block " + i + " at "
                    + r.startLsn());
                assertEquals(xlrec.orignsn(), GistPage.nsn(page));
                assertEquals(r.endLsn().value(), Page.lsn(page));
                int right = i < xlrec.npage() && b.blkno() != GistPage.GIST_ROOT_BLKNO ? r.block(i + 1).blkno()
                    : b.blkno() == GistPage.GIST_ROOT_BLKNO ? GistPage.INVALID_BLOCK_NUMBER : xlrec.origrlink();
                assertEquals(right, GistPage.rightlink(page));
                compared++;
                followRight += (GistPage.flags(page) & GistPage.F_FOLLOW_RIGHT) != 0 ? 1 : 0;
            }
        }
        assertTrue(compared > 100, compared + " split pages");
        assertTrue(followRight > 10, followRight + " split pages with F_FOLLOW_RIGHT");
    }

    /** A copy of {@code r} with block {@code id} replaced (or removed when {@code b} is null). */
    static WalRecord withBlock(WalRecord r, int id, BlockRef b) {
        List<BlockRef> blocks = new ArrayList<>(r.blocks().stream().filter(x -> x.blockId() != id).toList());
        if (b != null) {
            blocks.add(b);
            blocks.sort((x, y) -> Integer.compare(x.blockId(), y.blockId()));
        }
        return WalFixture.with(r, r.info(), List.copyOf(blocks), r.mainData());
    }

    static WalRecord withMain(WalRecord r, int info, byte[] main) {
        return WalFixture.with(r, info, r.blocks(), main);
    }

    static BlockRef withData(BlockRef b, byte[] data) {
        return asBlock(b, b.blockId(), data);
    }

    /** {@code b}'s page under block id {@code id}, with {@code data} and no image. */
    static BlockRef asBlock(BlockRef b, int id, byte[] data) {
        return new BlockRef(id, b.rel(), b.blkno(), b.forkFlags() & ~BlockRef.BKPBLOCK_HAS_IMAGE, false, false, 0, 0, 0,
            null, data);
    }

    /** The block with a full-page image to restore (uncompressed, no hole): {@code page}. */
    static BlockRef withAppliedImage(BlockRef b, byte[] page) {
        return new BlockRef(b.blockId(), b.rel(), b.blkno(), b.forkFlags() | BlockRef.BKPBLOCK_HAS_IMAGE, true, true,
            BlockRef.BKPIMAGE_APPLY, 0, 0, page.clone(), null);
    }

    /** A leaf that split and waits for its downlink: F_FOLLOW_RIGHT set, NSN 0. */
    static byte[] followRightLeaf() {
        byte[] page = new byte[Page.BLCKSZ];
        GistPage.init(page, GistPage.F_LEAF | GistPage.F_FOLLOW_RIGHT);
        Page.setLsn(page, 0x10);
        return page;
    }

    /**
     * gistRedoClearFollowRight: the left child of a completed split gets the record's LSN as NSN
     * and loses F_FOLLOW_RIGHT, when it is redone and also when it is restored from its image
     * (taken before the primary changed it).
     */
    @Test
    void theLeftChildGetsTheRecordsLsnAsNsnEvenWhenRestoredFromItsImage() {
        WalRecord update = gist(GistXlog.XLOG_GIST_PAGE_UPDATE).stream().filter(r -> r.block(1) != null).findFirst()
            .orElseThrow();
        WalRecord split = gist(GistXlog.XLOG_GIST_PAGE_SPLIT).stream().filter(r -> r.block(0) != null).findFirst()
            .orElseThrow();
        for (WalRecord r : List.of(update, split)) {
            int child = r.rmgrInfo() == GistXlog.XLOG_GIST_PAGE_UPDATE ? 1 : 0;
            for (WalRecord variant : List.of(withBlock(r, child, withData(r.block(child), null)),
                withBlock(r, child, withAppliedImage(r.block(child), followRightLeaf())))) {
                byte[] page = followRightLeaf();
                WalRedo.redoBlock(variant, child, page);
                assertEquals(r.endLsn().value(), GistPage.nsn(page), "NSN at " + r.startLsn());
                assertEquals(GistPage.F_LEAF, GistPage.flags(page));
                assertEquals(r.endLsn().value(), Page.lsn(page));
            }
        }
        // an image of the updated page itself is restored as it is
        WalRecord imaged = withBlock(update, 0, withAppliedImage(update.block(0), followRightLeaf()));
        byte[] page = new byte[Page.BLCKSZ];
        WalRedo.redoBlock(imaged, 0, page);
        assertEquals(0, GistPage.nsn(page));
        assertEquals(GistPage.F_LEAF | GistPage.F_FOLLOW_RIGHT, GistPage.flags(page));
    }

    @Test
    void pageDeletionMarksTheLeafDeletedWithItsXid() {
        WalRecord r = gist(GistXlog.XLOG_GIST_PAGE_DELETE).get(0);
        byte[] page = new byte[Page.BLCKSZ];
        GistPage.init(page, GistPage.F_LEAF);
        WalRedo.redoBlock(withBlock(r, 0, withData(r.block(0), null)), 0, page);
        assertEquals(GistPage.F_LEAF | GistPage.F_DELETED, GistPage.flags(page));
        assertEquals(32, Page.lower(page));
        long xid = (Page.u32(page, 24) & 0xFFFFFFFFL) | (long) Page.u32(page, 28) << 32;
        assertEquals(GistXlog.GistxlogPageDelete.parse(r).deleteXid(), xid);
        assertTrue(xid > 700, "deleteXid " + xid);
    }

    // ---- garbage ----

    static void refused(WalRecord r, String expected) {
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
    }

    @Test
    void everyRealGistRecordPassesTheIngestCheck() {
        List<WalRecord> all = fixture.of(RmgrId.RM_GIST_ID);
        all.forEach(r -> assertDoesNotThrow(() -> RecordCheck.check(r), () -> "at " + r.startLsn()));
        assertTrue(all.size() > 2900, all.size() + " records");
    }

    @Test
    void unknownTypesAreRefused() {
        WalRecord r = gist(GistXlog.XLOG_GIST_ASSIGN_LSN).get(0);
        for (int info : new int[] {0x40, 0x50, 0x80, 0xF0}) {
            refused(withMain(r, info, r.mainData()),
                "unknown Gist record type (xl_info 0x" + Integer.toHexString(info) + ")");
        }
    }

    @Test
    void shortMainDataIsRefusedByEveryParser() {
        Object[][] cases = {
            {GistXlog.XLOG_GIST_PAGE_UPDATE, "PAGE_UPDATE", 4}, {GistXlog.XLOG_GIST_DELETE, "DELETE", 6},
            {GistXlog.XLOG_GIST_PAGE_REUSE, "PAGE_REUSE", 24}, {GistXlog.XLOG_GIST_PAGE_SPLIT, "PAGE_SPLIT", 24},
            {GistXlog.XLOG_GIST_PAGE_DELETE, "PAGE_DELETE", 10}};
        for (Object[] c : cases) {
            WalRecord r = gist((int) c[0]).get(0);
            int need = (int) c[2];
            refused(withMain(r, r.info(), Arrays.copyOf(r.mainData(), need - 1)),
                "malformed Gist " + c[1] + " record: main data of " + (need - 1) + " bytes, at least " + need
                    + " needed");
            refused(withMain(r, r.info(), null), "main data of 0 bytes");
        }
        // DELETE: its offsets are in the main data too
        WalRecord d = gist(GistXlog.XLOG_GIST_DELETE).get(0);
        refused(withMain(d, d.info(), Arrays.copyOf(d.mainData(), d.mainData().length - 1)),
            "offsets to delete announced");
    }

    @Test
    void shortOrOverlongBlockDataIsRefused() {
        WalRecord u = gist(GistXlog.XLOG_GIST_PAGE_UPDATE).stream().filter(r -> r.block(0).data() != null
            && !r.block(0).applyImage() && GistXlog.GistxlogPageUpdate.parse(r).ntoinsert() > 0).findFirst()
            .orElseThrow();
        byte[] d = u.block(0).data();
        refused(withBlock(u, 0, withData(u.block(0), Arrays.copyOf(d, d.length - 1))),
            "malformed Gist PAGE_UPDATE record: block 0");
        refused(withBlock(u, 0, withData(u.block(0), Arrays.copyOf(d, d.length + 8))), "bytes after its");
        refused(withBlock(u, 0, withData(u.block(0), null)), "block 0 data of 0 bytes");
        WalRecord s = gist(GistXlog.XLOG_GIST_PAGE_SPLIT).get(0);
        byte[] sd = s.block(2).data();
        refused(withBlock(s, 2, withData(s.block(2), Arrays.copyOf(sd, sd.length - 1))),
            "malformed Gist PAGE_SPLIT record: block 2");
        refused(withBlock(s, 2, withData(s.block(2), Arrays.copyOf(sd, 3))), "block 2 data of 3 bytes, no tuple count");
        byte[] many = sd.clone();
        Page.put32(many, 0, 100_000);
        refused(withBlock(s, 2, withData(s.block(2), many)), "announces 100000 tuples");
        // the redo reads the same parsers, so it refuses the same data
        WalRecord bad = withBlock(s, 2, withData(s.block(2), Arrays.copyOf(sd, sd.length - 1)));
        assertThrows(RedoException.class, () -> WalRedo.redoBlock(bad, 2, new byte[Page.BLCKSZ]));
    }

    @Test
    void missingOrUnexpectedBlocksAreRefused() {
        WalRecord u = gist(GistXlog.XLOG_GIST_PAGE_UPDATE).get(0);
        refused(withBlock(u, 0, null), "malformed Gist PAGE_UPDATE record: no block 0");
        refused(withBlock(u, 2, asBlock(u.block(0), 2, null)), "block 2, which its redo does not read");
        WalRecord s = gist(GistXlog.XLOG_GIST_PAGE_SPLIT).get(0);
        refused(withBlock(s, 2, null), "malformed Gist PAGE_SPLIT record: no block 2");
        int npage = GistXlog.GistxlogPageSplit.parse(s).npage();
        refused(withBlock(s, npage + 1, asBlock(s.block(1), npage + 1, s.block(1).data())),
            "block " + (npage + 1) + ", which");
        WalRecord pd = gist(GistXlog.XLOG_GIST_PAGE_DELETE).get(0);
        refused(withBlock(pd, 1, null), "malformed Gist PAGE_DELETE record: no block 1");
        WalRecord reuse = gist(GistXlog.XLOG_GIST_PAGE_REUSE).get(0);
        refused(withBlock(reuse, 0, withData(pd.block(0), null)), "block 0, which its redo does not read");
        WalRecord del = gist(GistXlog.XLOG_GIST_DELETE).get(0);
        refused(withBlock(del, 0, null), "malformed Gist DELETE record: no block 0");
        // redo of a block the record has not: an error, not a changed page
        assertThrows(RedoException.class, () -> WalRedo.redoBlock(u, 3, new byte[Page.BLCKSZ]));
    }

    /** Random main data, block data and pages: the check and the redo throw RedoException or nothing. */
    @Test
    void randomBytesGiveOnlyRedoExceptions() {
        Random rnd = new Random(42);
        List<WalRecord> samples = new ArrayList<>();
        for (int info : new int[] {0x00, 0x10, 0x20, 0x30, 0x60, 0x70}) {
            samples.addAll(gist(info).subList(0, Math.min(5, gist(info).size())));
        }
        Predicate<Throwable> ok = t -> t instanceof RedoException;
        int redone = 0;
        for (int round = 0; round < 4000; round++) {
            WalRecord base = samples.get(rnd.nextInt(samples.size()));
            byte[] main = base.mainData().clone();
            if (rnd.nextBoolean()) {
                main = new byte[rnd.nextInt(40)];
                rnd.nextBytes(main);
            } else if (main.length > 0) {
                main[rnd.nextInt(main.length)] = (byte) rnd.nextInt();
            }
            WalRecord r = withMain(base, base.info(), main);
            if (!r.blocks().isEmpty() && rnd.nextBoolean()) {
                BlockRef b = r.blocks().get(rnd.nextInt(r.blocks().size()));
                byte[] d = b.data() == null ? new byte[rnd.nextInt(64)] : b.data().clone();
                if (d.length > 0) {
                    for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                        d[rnd.nextInt(d.length)] = (byte) rnd.nextInt();
                    }
                }
                if (rnd.nextInt(4) == 0) {
                    d = Arrays.copyOf(d, rnd.nextInt(d.length + 1));
                }
                r = withBlock(r, b.blockId(), withData(b, d));
            }
            WalRecord rec = r;
            try {
                RecordCheck.check(rec);
            } catch (Throwable t) {
                assertTrue(ok.test(t), () -> "check at " + rec.startLsn() + " threw " + t);
            }
            for (BlockRef b : rec.blocks()) {
                byte[] page = b.hasImage() ? b.restoreImage(rec.startLsn()) : new byte[Page.BLCKSZ];
                if (rnd.nextInt(3) == 0) {
                    rnd.nextBytes(page);
                    Page.setLsn(page, 0);
                }
                try {
                    WalRedo.redoBlock(rec, b.blockId(), page);
                    redone++;
                } catch (Throwable t) {
                    assertTrue(ok.test(t), () -> "redo at " + rec.startLsn() + " threw " + t);
                }
            }
        }
        assertTrue(redone > 100, redone + " blocks redone without error");
        assertFalse(samples.isEmpty());
    }
}
