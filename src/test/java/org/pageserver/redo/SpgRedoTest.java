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
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.SpgXlog.SpgxlogAddLeaf;
import org.pageserver.redo.SpgXlog.SpgxlogAddNode;
import org.pageserver.redo.SpgXlog.SpgxlogMoveLeafs;
import org.pageserver.redo.SpgXlog.SpgxlogPickSplit;
import org.pageserver.redo.SpgXlog.SpgxlogSplitTuple;
import org.pageserver.redo.SpgXlog.SpgxlogVacuumLeaf;
import org.pageserver.redo.SpgXlog.SpgxlogVacuumRedirect;

/**
 * SP-GiST redo on real PG15 WAL (src/test/resources/redo/spgist/make-fixture.sh): every block
 * of every SPGist record, redone on the page as it was before the record, equals the primary's
 * wal_consistency_checking image of it after spg_mask; and the record parsers and the ingest
 * check refuse garbage with a RedoException naming the record, never anything else.
 */
class SpgRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/spgist");
    static WalFixture fixture;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
    }

    static List<WalRecord> spgist(int info) {
        return fixture.of(RmgrId.RM_SPGIST_ID).stream().filter(r -> r.rmgrInfo() == info).toList();
    }

    static WalRecord first(int info) {
        return spgist(info).get(0);
    }

    static final int[] TYPES = {SpgXlog.XLOG_SPGIST_ADD_LEAF, SpgXlog.XLOG_SPGIST_MOVE_LEAFS,
        SpgXlog.XLOG_SPGIST_ADD_NODE, SpgXlog.XLOG_SPGIST_SPLIT_TUPLE, SpgXlog.XLOG_SPGIST_PICKSPLIT,
        SpgXlog.XLOG_SPGIST_VACUUM_LEAF, SpgXlog.XLOG_SPGIST_VACUUM_ROOT, SpgXlog.XLOG_SPGIST_VACUUM_REDIRECT};

    @Test
    void everySpgistRecordTypeIsThereAsPgWaldumpCountsIt() {
        for (int info : TYPES) {
            String name = SpgXlog.name(info);
            assertEquals(Integer.parseInt(fixture.properties().getProperty("records." + name)), spgist(info).size(), name);
        }
    }

    @Test
    void everyBlockOfEverySpgistRecordRedoesToThePrimarysImage() {
        ConsistencyChecker c = fixture.check();
        Map<String, Integer> blocks = new TreeMap<>();
        for (int info : TYPES) {
            blocks.put(ConsistencyChecker.type(spgist(info).get(0)),
                spgist(info).stream().mapToInt(r -> r.blocks().size()).sum());
        }
        Map<String, Integer> checked = new TreeMap<>(c.checked);
        checked.keySet().removeIf(t -> !t.startsWith("SPGist/"));
        System.out.println("SpgRedoTest: images compared per SPGist record type " + checked + ", "
            + c.mismatches.size() + " mismatches, all records " + c.records);
        assertEquals(List.of(), c.mismatches);
        assertEquals(blocks, checked);
    }

    /**
     * How many records of the fixture take each path of spg_redo, so none is left untested
     * unnoticed. Not among them: records with isBuild set (an index build logs full-page images
     * instead, so PostgreSQL never writes them), and ADD_NODE with the parent on the page the
     * tuple moves to (see below).
     */
    @Test
    void theFixtureTakesEveryPathOfTheRedoPostgresCanWrite() {
        Map<String, Long> paths = new TreeMap<>();
        count(paths, "ADD_LEAF newPage", SpgXlog.XLOG_SPGIST_ADD_LEAF, r -> SpgxlogAddLeaf.parse(r).newPage());
        count(paths, "ADD_LEAF nulls", SpgXlog.XLOG_SPGIST_ADD_LEAF, r -> SpgxlogAddLeaf.parse(r).storesNulls());
        count(paths, "ADD_LEAF chained to a head", SpgXlog.XLOG_SPGIST_ADD_LEAF, r -> {
            SpgxlogAddLeaf x = SpgxlogAddLeaf.parse(r);
            return x.offnumHeadLeaf() != 0 && x.offnumHeadLeaf() != x.offnumLeaf();
        });
        count(paths, "ADD_LEAF replacing a DEAD tuple", SpgXlog.XLOG_SPGIST_ADD_LEAF, r -> {
            SpgxlogAddLeaf x = SpgxlogAddLeaf.parse(r);
            return x.offnumHeadLeaf() == x.offnumLeaf();
        });
        count(paths, "MOVE_LEAFS replaceDead", SpgXlog.XLOG_SPGIST_MOVE_LEAFS, r -> SpgxlogMoveLeafs.parse(r).replaceDead());
        count(paths, "PICKSPLIT initSrc", SpgXlog.XLOG_SPGIST_PICKSPLIT, r -> SpgxlogPickSplit.parse(r).initSrc());
        count(paths, "ADD_LEAF with parent", SpgXlog.XLOG_SPGIST_ADD_LEAF, r -> SpgxlogAddLeaf.parse(r).offnumParent() != 0);
        count(paths, "MOVE_LEAFS newPage", SpgXlog.XLOG_SPGIST_MOVE_LEAFS, r -> SpgxlogMoveLeafs.parse(r).newPage());
        count(paths, "MOVE_LEAFS to an existing page", SpgXlog.XLOG_SPGIST_MOVE_LEAFS,
            r -> !SpgxlogMoveLeafs.parse(r).newPage());
        count(paths, "ADD_NODE in place", SpgXlog.XLOG_SPGIST_ADD_NODE, r -> r.block(1) == null);
        // parentBlk 1 (the parent on the page the tuple moves to) cannot happen: the new page has
        // the old one's triple parity, and a parent is on its child's page or one of the parity before
        for (int parentBlk : new int[] {0, 2}) {
            count(paths, "ADD_NODE moved, parent on block " + parentBlk, SpgXlog.XLOG_SPGIST_ADD_NODE,
                r -> r.block(1) != null && SpgxlogAddNode.parse(r).parentBlk() == parentBlk);
        }
        count(paths, "SPLIT_TUPLE same page", SpgXlog.XLOG_SPGIST_SPLIT_TUPLE,
            r -> SpgxlogSplitTuple.parse(r).postfixBlkSame());
        count(paths, "SPLIT_TUPLE to another page", SpgXlog.XLOG_SPGIST_SPLIT_TUPLE,
            r -> !SpgxlogSplitTuple.parse(r).postfixBlkSame());
        count(paths, "PICKSPLIT root", SpgXlog.XLOG_SPGIST_PICKSPLIT, r -> SpgxlogPickSplit.parse(r).isRootSplit());
        count(paths, "PICKSPLIT with redirect", SpgXlog.XLOG_SPGIST_PICKSPLIT,
            r -> SpgxlogPickSplit.parse(r).nDelete() > 0);
        count(paths, "PICKSPLIT initDest", SpgXlog.XLOG_SPGIST_PICKSPLIT, r -> SpgxlogPickSplit.parse(r).initDest());
        count(paths, "PICKSPLIT innerIsParent", SpgXlog.XLOG_SPGIST_PICKSPLIT,
            r -> SpgxlogPickSplit.parse(r).innerIsParent());
        count(paths, "PICKSPLIT parent block 3", SpgXlog.XLOG_SPGIST_PICKSPLIT, r -> r.block(3) != null);
        count(paths, "VACUUM_LEAF dead", SpgXlog.XLOG_SPGIST_VACUUM_LEAF, r -> SpgxlogVacuumLeaf.parse(r).toDead().length > 0);
        count(paths, "VACUUM_LEAF placeholders", SpgXlog.XLOG_SPGIST_VACUUM_LEAF,
            r -> SpgxlogVacuumLeaf.parse(r).toPlaceholder().length > 0);
        count(paths, "VACUUM_LEAF moves", SpgXlog.XLOG_SPGIST_VACUUM_LEAF,
            r -> SpgxlogVacuumLeaf.parse(r).moveSrc().length > 0);
        count(paths, "VACUUM_LEAF chains", SpgXlog.XLOG_SPGIST_VACUUM_LEAF,
            r -> SpgxlogVacuumLeaf.parse(r).chainSrc().length > 0);
        count(paths, "VACUUM_REDIRECT to placeholders", SpgXlog.XLOG_SPGIST_VACUUM_REDIRECT,
            r -> SpgxlogVacuumRedirect.parse(r).itemToPlaceholder().length > 0);
        count(paths, "VACUUM_REDIRECT trailing placeholders removed", SpgXlog.XLOG_SPGIST_VACUUM_REDIRECT,
            r -> SpgxlogVacuumRedirect.parse(r).firstPlaceholder() != 0);
        System.out.println("SpgRedoTest: records per redo path " + paths);
        paths.forEach((path, n) -> assertTrue(n > 0, path + " not in the fixture: " + paths));
    }

    private static void count(Map<String, Long> paths, String path, int info, Predicate<WalRecord> p) {
        paths.put(path, spgist(info).stream().filter(p).count());
    }

    // ---------------------------------------------------------------- garbage

    static WalRecord withMain(WalRecord r, int info, byte[] main) {
        return new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), r.rmid(), info, r.origin(),
            r.toplevelXid(), r.blocks(), main, r.raw());
    }

    static WalRecord withBlocks(WalRecord r, List<BlockRef> blocks) {
        return new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), r.rmid(), r.info(), r.origin(),
            r.toplevelXid(), blocks, r.mainData(), r.raw());
    }

    static void refused(WalRecord r, String expected) {
        RedoException e = assertThrows(RedoException.class, () -> SpgXlog.check(r));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
        e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void mainDataCutShortAnywhereIsRefusedNamingTheRecord() {
        for (int info : TYPES) {
            WalRecord r = spgist(info).stream().max((a, b) -> a.mainData().length - b.mainData().length).orElseThrow();
            String name = SpgXlog.name(info);
            for (int len = 0; len < r.mainData().length; len++) {
                refused(withMain(r, r.info(), Arrays.copyOf(r.mainData(), len)), "malformed SPGist " + name + " record: ");
            }
        }
    }

    @Test
    void theFixedPartOfEachRecordIsItsCStructsSize() {
        refused(withMain(first(SpgXlog.XLOG_SPGIST_PICKSPLIT), SpgXlog.XLOG_SPGIST_PICKSPLIT, new byte[27]),
            "main data of 27 bytes, at least 28 needed");
        refused(withMain(first(SpgXlog.XLOG_SPGIST_ADD_LEAF), SpgXlog.XLOG_SPGIST_ADD_LEAF, null),
            "main data of 0 bytes, at least 10 needed");
    }

    @Test
    void aTupleSmallerThanItsOwnHeaderIsRefused() {
        WalRecord r = first(SpgXlog.XLOG_SPGIST_ADD_LEAF);
        byte[] m = r.mainData().clone();
        Page.put32(m, SpgXlog.SIZE_OF_SPGXLOG_ADD_LEAF, 8 << 2); // a leaf tuple of 8 bytes
        refused(withMain(r, r.info(), m), "leaf tuple has size 8, less than its 12-byte header");
        WalRecord s = first(SpgXlog.XLOG_SPGIST_SPLIT_TUPLE);
        m = s.mainData().clone();
        Page.put16(m, SpgXlog.SIZE_OF_SPGXLOG_SPLIT_TUPLE + 4, 0); // a prefix tuple of 0 bytes
        refused(withMain(s, s.info(), m), "prefix tuple has size 0, less than its 8-byte header");
    }

    @Test
    void countsAnnouncingMoreThanTheMainDataHoldsAreRefused() {
        WalRecord r = first(SpgXlog.XLOG_SPGIST_VACUUM_LEAF);
        byte[] m = r.mainData().clone();
        Page.put16(m, 6, Page.u16(m, 6) + 1); // one more chain entry
        refused(withMain(r, r.info(), m), "ends inside the");
        WalRecord p = first(SpgXlog.XLOG_SPGIST_PICKSPLIT);
        m = p.mainData().clone();
        Page.put16(m, 4, 0xFFFF); // nInsert
        refused(withMain(p, p.info(), m), "ends inside the 65535 inserted offsets");
    }

    @Test
    void unknownSpgistRecordTypesAreRefused() {
        WalRecord r = first(SpgXlog.XLOG_SPGIST_ADD_LEAF);
        for (int info : new int[] {0x00, 0x90, 0xA0, 0xF0}) {
            refused(withMain(r, info, r.mainData()), "unknown SPGist record type (xl_info 0x" + Integer.toHexString(info));
        }
    }

    @Test
    void everyBlockRedoReadsMustBeThere() {
        assertMissingBlockRefused(first(SpgXlog.XLOG_SPGIST_ADD_LEAF), 0);
        assertMissingBlockRefused(spgist(SpgXlog.XLOG_SPGIST_ADD_LEAF).stream()
            .filter(r -> SpgxlogAddLeaf.parse(r).offnumParent() != 0).findFirst().orElseThrow(), 1);
        for (int id = 0; id <= 2; id++) {
            assertMissingBlockRefused(first(SpgXlog.XLOG_SPGIST_MOVE_LEAFS), id);
        }
        WalRecord moved = spgist(SpgXlog.XLOG_SPGIST_ADD_NODE).stream()
            .filter(r -> r.block(1) != null && SpgxlogAddNode.parse(r).parentBlk() == 2).findFirst().orElseThrow();
        assertMissingBlockRefused(moved, 0);
        assertMissingBlockRefused(moved, 2);
        WalRecord split = spgist(SpgXlog.XLOG_SPGIST_SPLIT_TUPLE).stream()
            .filter(r -> !SpgxlogSplitTuple.parse(r).postfixBlkSame()).findFirst().orElseThrow();
        assertMissingBlockRefused(split, 0);
        assertMissingBlockRefused(split, 1);
        WalRecord pick = spgist(SpgXlog.XLOG_SPGIST_PICKSPLIT).stream()
            .filter(r -> !SpgxlogPickSplit.parse(r).isRootSplit()).findFirst().orElseThrow();
        assertMissingBlockRefused(pick, 0);
        assertMissingBlockRefused(pick, 2);
        for (int info : new int[] {SpgXlog.XLOG_SPGIST_VACUUM_LEAF, SpgXlog.XLOG_SPGIST_VACUUM_ROOT,
            SpgXlog.XLOG_SPGIST_VACUUM_REDIRECT}) {
            assertMissingBlockRefused(first(info), 0);
        }
    }

    private static void assertMissingBlockRefused(WalRecord r, int id) {
        List<BlockRef> blocks = new ArrayList<>(r.blocks());
        assertTrue(blocks.removeIf(b -> b.blockId() == id));
        refused(withBlocks(r, blocks), "record: no block " + id);
    }

    @Test
    void willInitMustGoWithTheRecordsNewPageFlags() {
        WalRecord fresh = spgist(SpgXlog.XLOG_SPGIST_ADD_LEAF).stream()
            .filter(r -> SpgxlogAddLeaf.parse(r).newPage()).findFirst().orElseThrow();
        refused(withBlocks(fresh, flipWillInit(fresh, 0)), "newPage is set but block 0 lacks BKPBLOCK_WILL_INIT");
        WalRecord old = spgist(SpgXlog.XLOG_SPGIST_ADD_LEAF).stream()
            .filter(r -> !SpgxlogAddLeaf.parse(r).newPage()).findFirst().orElseThrow();
        refused(withBlocks(old, flipWillInit(old, 0)), "block 0 has BKPBLOCK_WILL_INIT but newPage is not set");
        WalRecord root = spgist(SpgXlog.XLOG_SPGIST_PICKSPLIT).stream()
            .filter(r -> SpgxlogPickSplit.parse(r).isRootSplit()).findFirst().orElseThrow();
        refused(withBlocks(root, flipWillInit(root, 2)), "initInner is set but block 2 lacks BKPBLOCK_WILL_INIT");
    }

    private static List<BlockRef> flipWillInit(WalRecord r, int id) {
        return r.blocks().stream().map(b -> b.blockId() != id ? b : new BlockRef(b.blockId(), b.rel(), b.blkno(),
            b.forkFlags() ^ BlockRef.BKPBLOCK_WILL_INIT, b.hasImage(), b.applyImage(), b.bimgInfo(), b.holeOffset(),
            b.holeLength(), b.imageData(), b.data())).toList();
    }

    /**
     * Random main data of every type, on real pages: the check and the redo throw RedoException
     * or nothing. The pages are the records' consistency images (the pages after the records:
     * real SP-GiST pages to scribble on), their LSN cleared so that redo runs.
     */
    @Test
    void randomMainDataNeverThrowsAnythingButRedoException() {
        Random rnd = new Random(15);
        for (int info : TYPES) {
            List<WalRecord> rs = spgist(info);
            for (int i = 0; i < 3000; i++) {
                WalRecord real = rs.get(rnd.nextInt(rs.size()));
                byte[] main = new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(40) : rnd.nextInt(real.mainData().length + 40)];
                if (rnd.nextBoolean()) {
                    System.arraycopy(real.mainData(), 0, main, 0, Math.min(main.length, real.mainData().length));
                    for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                        if (main.length > 0) {
                            main[rnd.nextInt(main.length)] = (byte) rnd.nextInt(256);
                        }
                    }
                } else {
                    rnd.nextBytes(main);
                }
                WalRecord r = withMain(real, info, main);
                try {
                    SpgXlog.check(r);
                } catch (RedoException expected) {
                    // refused: what it is for
                }
                for (BlockRef b : real.blocks()) {
                    byte[] page = b.hasImage() ? b.restoreImage(real.startLsn()) : new byte[Page.BLCKSZ];
                    Page.setLsn(page, 0);
                    try {
                        WalRedo.redoBlock(r, b.blockId(), page);
                    } catch (RedoException expected) {
                        // refused, naming the record
                    }
                }
            }
        }
    }
}
