package org.pageserver.redo;

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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.mask.BufMask;

/**
 * BRIN redo on real PG15 WAL (src/test/resources/redo/brin/make-fixture.sh: index builds,
 * summaries widened in place and across pages, ranges summarized and desummarized, written with
 * wal_consistency_checking = 'brin'), and the refusal of malformed BRIN records.
 */
class BrinRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/brin");
    static WalFixture fixture;
    static List<WalRecord> brin;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
        brin = fixture.of(RmgrId.RM_BRIN_ID);
    }

    /** pg_waldump's name of a BRIN record type (brin_identify) from the rmgr's bits of xl_info. */
    static String identify(int info) {
        return BrinXlog.name(info) + ((info & BrinXlog.XLOG_BRIN_INIT_PAGE) != 0 ? "+INIT" : "");
    }

    @Test
    void replayEqualsEveryConsistencyImageAndTheListingCountsThem() throws IOException {
        ConsistencyChecker c = fixture.check();
        assertEquals(List.of(), c.mismatches);
        Map<String, WalFixture.Listed> ours = new TreeMap<>();
        for (WalRecord r : brin) {
            int images = (int) r.blocks().stream().filter(b -> b.hasImage() && !b.applyImage()).count();
            WalFixture.Listed l = ours.getOrDefault(identify(r.rmgrInfo()), new WalFixture.Listed(0, 0));
            ours.put(identify(r.rmgrInfo()), new WalFixture.Listed(l.records() + 1, l.checkImages() + images));
        }
        Map<String, WalFixture.Listed> listed = WalFixture.listed(DIR.resolve("brin-records.txt"));
        assertEquals(listed, ours);
        assertEquals(List.of("CREATE_INDEX", "DESUMMARIZE", "INSERT", "INSERT+INIT", "REVMAP_EXTEND", "SAMEPAGE_UPDATE",
            "UPDATE", "UPDATE+INIT"), List.copyOf(listed.keySet()));
        // each image was compared with our redo of its page ("BRIN/0x90" counts for INSERT+INIT)
        Map<String, Integer> compared = new TreeMap<>();
        c.checked.forEach((type, n) -> {
            if (type.startsWith("BRIN/0x")) {
                compared.put(identify(Integer.parseInt(type.substring(7), 16)), n);
            }
        });
        Map<String, Integer> expected = new TreeMap<>();
        listed.forEach((name, l) -> expected.put(name, l.checkImages()));
        assertEquals(expected, compared);
    }

    static WalRecord first(int info) {
        return brin.stream().filter(r -> r.rmgrInfo() == info).findFirst().orElseThrow();
    }

    static RedoException refused(WalRecord r) {
        return assertThrows(RedoException.class, () -> BrinXlog.check(r));
    }

    @Test
    void mainDataShorterThanItsStructIsRefused() {
        Object[][] types = {
            {BrinXlog.XLOG_BRIN_CREATE_INDEX, "CREATE_INDEX", 6}, {BrinXlog.XLOG_BRIN_INSERT, "INSERT", 10},
            {BrinXlog.XLOG_BRIN_UPDATE, "UPDATE", 14}, {BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE, "SAMEPAGE_UPDATE", 2},
            {BrinXlog.XLOG_BRIN_REVMAP_EXTEND, "REVMAP_EXTEND", 4}, {BrinXlog.XLOG_BRIN_DESUMMARIZE, "DESUMMARIZE", 10},
        };
        for (Object[] t : types) {
            WalRecord r = first((int) t[0]);
            int size = (int) t[2];
            assertEquals(size, r.mainData().length, t[1] + " main data is its struct");
            WalRecord cut = WalFixture.with(r, r.info(), r.blocks(), Arrays.copyOf(r.mainData(), size - 1));
            assertEquals("malformed BRIN " + t[1] + " record: main data of " + (size - 1) + " bytes, at least " + size
                + " needed at " + r.startLsn(), refused(cut).getMessage());
            // redo of any of its blocks says the same
            for (BlockRef b : cut.blocks()) {
                RedoException e = assertThrows(RedoException.class,
                    () -> WalRedo.redoBlock(cut, b.blockId(), new byte[Page.BLCKSZ]));
                assertTrue(e.getMessage().startsWith("malformed BRIN " + t[1] + " record: main data"), e.getMessage());
            }
        }
    }

    @Test
    void pagesPerRangeZeroIsRefused() {
        WalRecord r = first(BrinXlog.XLOG_BRIN_INSERT);
        byte[] m = r.mainData().clone();
        Page.put32(m, 4, 0);
        assertTrue(refused(WalFixture.with(r, r.info(), r.blocks(), m)).getMessage()
            .startsWith("malformed BRIN INSERT record: pagesPerRange 0"));
    }

    @Test
    void blocksItsRedoReadsMustBeThereAndNoOthers() {
        WalRecord update = first(BrinXlog.XLOG_BRIN_UPDATE);
        WalRecord noOld = WalFixture.with(update, update.info(), update.blocks().subList(0, 2), update.mainData());
        assertTrue(refused(noOld).getMessage().startsWith("malformed BRIN UPDATE record: no block 2"));
        WalRecord samepage = first(BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE);
        BlockRef b0 = samepage.blocks().get(0);
        BlockRef extra = new BlockRef(1, b0.rel(), 7, b0.forkFlags(), false, false, 0, 0, 0, null, null);
        WalRecord withExtra = WalFixture.with(samepage, samepage.info(), List.of(b0, extra), samepage.mainData());
        assertTrue(refused(withExtra).getMessage().startsWith("malformed BRIN SAMEPAGE_UPDATE record: unexpected block 1"));
        RedoException e = assertThrows(RedoException.class, () -> WalRedo.redoBlock(withExtra, 1, new byte[Page.BLCKSZ]));
        assertTrue(e.getMessage().startsWith("malformed BRIN SAMEPAGE_UPDATE record: unexpected block 1"), e.getMessage());
    }

    @Test
    void aTupleShorterThanABrinTupleIsRefused() {
        for (int info : new int[] {BrinXlog.XLOG_BRIN_INSERT, BrinXlog.XLOG_BRIN_UPDATE, BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE}) {
            WalRecord r = first(info);
            List<BlockRef> blocks = new ArrayList<>(r.blocks());
            blocks.set(0, WalFixture.with(blocks.get(0), blocks.get(0).forkFlags(), new byte[4]));
            WalRecord shortTuple = WalFixture.with(r, r.info(), blocks, r.mainData());
            assertEquals("malformed BRIN " + BrinXlog.name(info) + " record: block 0 data of 4 bytes, at least 5 (a BRIN "
                + "tuple) needed at " + r.startLsn(), refused(shortTuple).getMessage());
            blocks.set(0, WalFixture.with(blocks.get(0), blocks.get(0).forkFlags(), null));
            assertTrue(refused(WalFixture.with(r, r.info(), blocks, r.mainData())).getMessage()
                .contains("block 0 data of 0 bytes"));
        }
    }

    @Test
    void pagesRedoInitializesMustBeMarkedWillInit() {
        for (int info : new int[] {BrinXlog.XLOG_BRIN_CREATE_INDEX, BrinXlog.XLOG_BRIN_REVMAP_EXTEND,
            BrinXlog.XLOG_BRIN_INSERT | BrinXlog.XLOG_BRIN_INIT_PAGE}) {
            WalRecord r = first(info);
            int id = info == BrinXlog.XLOG_BRIN_REVMAP_EXTEND ? 1 : 0;
            List<BlockRef> blocks = new ArrayList<>(r.blocks());
            BlockRef b = blocks.get(id);
            blocks.set(id, WalFixture.with(b, b.forkFlags() & ~BlockRef.BKPBLOCK_WILL_INIT, b.data()));
            assertTrue(refused(WalFixture.with(r, r.info(), blocks, r.mainData())).getMessage()
                .contains("block " + id + " is initialized by redo but not marked will-init"));
        }
    }

    @Test
    void typesPostgresDoesNotWriteAreRefused() {
        WalRecord r = first(BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE);
        for (int info : new int[] {0x60, 0x70, 0x80 | BrinXlog.XLOG_BRIN_SAMEPAGE_UPDATE, 0x80 | BrinXlog.XLOG_BRIN_DESUMMARIZE}) {
            WalRecord bad = WalFixture.with(r, info | (r.info() & 0x0F), r.blocks(), r.mainData());
            assertEquals("unknown BRIN record type (xl_info 0x" + Integer.toHexString(bad.info()) + ") at " + r.startLsn(),
                refused(bad).getMessage());
        }
    }

    @Test
    void anOffsetBeyondThePageIsARedoError() {
        WalRecord r = first(BrinXlog.XLOG_BRIN_INSERT);
        byte[] m = r.mainData().clone();
        Page.put16(m, 8, 300);
        WalRecord far = WalFixture.with(r, r.info(), r.blocks(), m);
        byte[] page = new byte[Page.BLCKSZ];
        BrinPage.pageInit(page, BrinPage.BRIN_PAGETYPE_REGULAR);
        RedoException e = assertThrows(RedoException.class, () -> WalRedo.redoBlock(far, 0, page));
        assertTrue(e.getMessage().startsWith("brin_xlog_insert_update: invalid max offset number 300"), e.getMessage());
    }

    /** Random main data, block data, types and pages: a RedoException or nothing, never another exception. */
    @Test
    void randomBytesGiveOnlyRedoExceptions() {
        Random rnd = new Random(17);
        for (int i = 0; i < 20_000; i++) {
            WalRecord real = brin.get(rnd.nextInt(brin.size()));
            List<BlockRef> blocks = new ArrayList<>();
            for (BlockRef b : real.blocks()) {
                blocks.add(WalFixture.with(b, b.forkFlags(), rnd.nextInt(4) == 0 ? null : bytes(rnd, rnd.nextInt(40))));
            }
            int info = rnd.nextInt(16) << 4 | (real.info() & 0x0F);
            WalRecord r = WalFixture.with(real, info, blocks, bytes(rnd, rnd.nextInt(18)));
            onlyRedoException(() -> BrinXlog.check(r));
            for (BlockRef b : blocks) {
                byte[] page = switch (rnd.nextInt(3)) {
                    case 0 -> bytes(rnd, Page.BLCKSZ);
                    case 1 -> new byte[Page.BLCKSZ];
                    default -> regularPage(rnd);
                };
                onlyRedoException(() -> WalRedo.redoBlock(r, b.blockId(), page));
                maskOrInvalidPage(page);
            }
        }
    }

    static void onlyRedoException(Runnable action) {
        try {
            action.run();
        } catch (RedoException expected) {
            // a clear refusal
        }
    }

    /** brin_mask of any page: masked, or mask_unused_space's error for pointers that make no sense. */
    static void maskOrInvalidPage(byte[] page) {
        try {
            BufMask.mask(RmgrId.RM_BRIN_ID, page, 0);
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage().startsWith("invalid page pd_lower"), e.getMessage());
        }
    }

    static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** A regular BRIN page with a few random tuples, its LSN 0 so that redo applies. */
    static byte[] regularPage(Random rnd) {
        byte[] page = new byte[Page.BLCKSZ];
        BrinPage.pageInit(page, BrinPage.BRIN_PAGETYPE_REGULAR);
        for (int i = rnd.nextInt(5); i > 0; i--) {
            byte[] t = bytes(rnd, 5 + rnd.nextInt(30));
            Page.addItem(page, t, 0, t.length, 0, 0);
        }
        return page;
    }
}
