package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;

/**
 * The ingest-time record check: every record of the real PG15 fixtures passes (no false
 * alarm can stop a healthy tenant), and garbage of each kind is refused with its LSN.
 * Fixtures: src/test/resources/wal/README.md (seven segments, 14 resource managers) and
 * src/test/resources/tenant/README.md.
 */
class RecordCheckTest {
    static List<WalRecord> records = new ArrayList<>();

    @BeforeAll
    static void load() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (String s : new String[] {"15", "16", "17", "18", "19", "1A", "1B"}) {
            all.write(gunzip("/wal/0000000100000000000000" + s + ".gz"));
        }
        byte[] wal = all.toByteArray();
        new WalDecoder(Lsn.parse("0/1500000"), 1 << 20).feed(wal, 0, wal.length, records::add);
        byte[] tenant = gunzip("/tenant/000000010000000000000007.partial.gz");
        new WalDecoder(Lsn.parse("0/700000"), 1 << 20).feed(tenant, 0, tenant.length, records::add);
    }

    static byte[] gunzip(String r) throws IOException {
        try (InputStream in = new GZIPInputStream(RecordCheckTest.class.getResourceAsStream(r))) {
            return in.readAllBytes();
        }
    }

    @Test
    void everyRealRecordPasses() {
        Map<String, Integer> perRmgr = new TreeMap<>();
        for (WalRecord r : records) {
            assertDoesNotThrow(() -> RecordCheck.check(r), () -> RmgrId.name(r.rmid()) + " record at " + r.startLsn());
            perRmgr.merge(RmgrId.name(r.rmid()), 1, Integer::sum);
        }
        assertTrue(records.size() > 13_000, "records: " + records.size());
        assertTrue(perRmgr.size() >= 12, perRmgr.toString());
    }

    static WalRecord with(WalRecord r, int rmid, int info, byte[] main) {
        return new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), rmid, info, r.origin(), r.toplevelXid(),
            r.blocks(), main, r.raw());
    }

    static WalRecord first(int rmid, int opcode) {
        return records.stream().filter(r -> r.rmid() == rmid && (r.info() & 0x70) == opcode).findFirst().orElseThrow();
    }

    @Test
    void unknownResourceManagersAreRefused() {
        WalRecord r = records.get(0);
        for (int rmid : new int[] {22, 100, 128, 255}) {
            RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(with(r, rmid, r.info(), r.mainData())));
            assertTrue(e.getMessage().contains("unknown resource manager " + rmid) && e.getMessage().endsWith(" at " + r.startLsn()),
                e.getMessage());
        }
    }

    @Test
    void unknownRecordTypesAreRefused() {
        WalRecord b = records.stream().filter(r -> r.rmid() == RmgrId.RM_BTREE_ID).findFirst().orElseThrow();
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(with(b, b.rmid(), 0xF0, b.mainData())));
        assertTrue(e.getMessage().contains("unknown Btree record type (xl_info 0xf0)"), e.getMessage());
        WalRecord x = records.stream().filter(r -> r.rmid() == RmgrId.RM_XLOG_ID).findFirst().orElseThrow();
        assertThrows(RedoException.class, () -> RecordCheck.check(with(x, x.rmid(), 0xC0, x.mainData())));
        WalRecord t = records.stream().filter(r -> r.rmid() == RmgrId.RM_XACT_ID).findFirst().orElseThrow();
        assertThrows(RedoException.class, () -> RecordCheck.check(with(t, t.rmid(), 0x70, t.mainData())));
    }

    @Test
    void shortMainDataAndMissingBlocksAreRefused() {
        WalRecord insert = first(RmgrId.RM_HEAP_ID, 0x00);
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(with(insert, insert.rmid(),
            insert.info(), Arrays.copyOf(insert.mainData(), 2))));
        assertTrue(e.getMessage().contains("Heap INSERT record: main data of 2 bytes, at least 3 needed"), e.getMessage());
        assertThrows(RedoException.class, () -> RecordCheck.check(with(insert, insert.rmid(), insert.info(), null)));
        WalRecord noBlocks = new WalRecord(insert.startLsn(), insert.endLsn(), insert.prevLsn(), insert.xid(),
            insert.rmid(), insert.info(), insert.origin(), insert.toplevelXid(), List.of(), insert.mainData(), insert.raw());
        e = assertThrows(RedoException.class, () -> RecordCheck.check(noBlocks));
        assertTrue(e.getMessage().contains("no block 0"), e.getMessage());
        WalRecord commit = first(RmgrId.RM_XACT_ID, 0x00);
        assertThrows(RedoException.class, () -> RecordCheck.check(with(commit, commit.rmid(), commit.info(), new byte[3])));
    }

    /**
     * Records that change SLRU pages are parsed whole when checked: a commit whose xinfo
     * announces more than its main data holds, or a MultiXact creation with fewer members than
     * it counts, is refused before it is stored (not when the batch holding it is written,
     * which would lose the good records before it).
     */
    @Test
    void slruRecordsShortOfWhatTheyAnnounceAreRefused() {
        WalRecord commit = records.stream().filter(r -> r.rmid() == RmgrId.RM_XACT_ID && (r.info() & 0x70) == 0x00
            && (r.info() & 0x80) != 0 && r.mainData().length > 16).findFirst().orElseThrow();
        assertDoesNotThrow(() -> RecordCheck.check(commit));
        byte[] cut = Arrays.copyOf(commit.mainData(), commit.mainData().length - 1);
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(with(commit, commit.rmid(),
            commit.info(), cut)));
        assertTrue(e.getMessage().endsWith(" at " + commit.startLsn()), e.getMessage());
        byte[] subxacts = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(1)
            .putInt(2).putInt(1000).array(); // HAS_SUBXACTS, 1000 of them, none there
        assertThrows(RedoException.class, () -> RecordCheck.check(with(commit, commit.rmid(), 0x80, subxacts)));
        byte[] create = java.nio.ByteBuffer.allocate(20).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(5).putInt(1)
            .putInt(2).putInt(700).putInt(1).array(); // two members counted, one there
        assertThrows(RedoException.class, () -> RecordCheck.check(with(commit, RmgrId.RM_MULTIXACT_ID, 0x20, create)));
    }

    /** Every resource manager of PostgreSQL 15 is checked: none lets an empty record of type 0xF0 through. */
    @Test
    void noResourceManagerPassesUnchecked() {
        WalRecord r = records.get(0);
        for (int rmid = 0; rmid <= RmgrId.RM_MAX_BUILTIN_ID; rmid++) {
            int id = rmid;
            assertThrows(RedoException.class, () -> RecordCheck.check(with(r, id, 0xF0, new byte[0])), RmgrId.name(id));
        }
    }

    @Test
    void brinAndGenericRecordsGetTheirOwnCheck() {
        WalRecord r = records.get(0);
        assertEquals("unknown BRIN record type (xl_info 0xf0) at " + r.startLsn(),
            assertThrows(RedoException.class, () -> RecordCheck.check(with(r, RmgrId.RM_BRIN_ID, 0xF0, new byte[0])))
                .getMessage());
        assertEquals("unknown Generic record type (xl_info 0xf0) at " + r.startLsn(),
            assertThrows(RedoException.class, () -> RecordCheck.check(with(r, RmgrId.RM_GENERIC_ID, 0xF0, new byte[0])))
                .getMessage());
    }
    // ---- block data: one case per kind of garbage ----

    /** A record of {@code rmid}/{@code info} with main data {@code main} and the given blocks (no images). */
    static WalRecord synth(int rmid, int info, byte[] main, byte[]... blockData) {
        WalRecord shell = records.get(0);
        List<BlockRef> blocks = new ArrayList<>();
        RelTag rel = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
        for (int i = 0; i < blockData.length; i++) {
            if (blockData[i] != null) {
                blocks.add(new BlockRef(i, rel, i + 1, blockData[i].length > 0 ? BlockRef.BKPBLOCK_HAS_DATA : 0, false,
                    false, 0, 0, 0, null, blockData[i].length > 0 ? blockData[i] : null));
            }
        }
        return new WalRecord(shell.startLsn(), shell.endLsn(), shell.prevLsn(), 700, rmid, info, shell.origin(), 0,
            List.copyOf(blocks), main, shell.raw());
    }

    static byte[] le(int... u16s) {
        ByteBuffer b = ByteBuffer.allocate(u16s.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : u16s) {
            b.putShort((short) v);
        }
        return b.array();
    }

    static byte[] cat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static void refused(WalRecord r, String expected) {
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
    }

    static void passes(WalRecord r) {
        assertDoesNotThrow(() -> RecordCheck.check(r));
    }

    @Test
    void heapInsertWithoutItsTupleHeaderIsRefused() {
        byte[] main = {1, 0, 0};
        passes(synth(RmgrId.RM_HEAP_ID, 0x00, main, new byte[5 + 20]));
        refused(synth(RmgrId.RM_HEAP_ID, 0x00, main, new byte[4]), "Heap INSERT record: block 0 data of 4 bytes, at least 5 needed");
        refused(synth(RmgrId.RM_HEAP_ID, 0x00, main, new byte[0]), "block 0 data of 0 bytes");
        // XLOG_HEAP_INIT_PAGE is a flag, the type is still INSERT
        refused(synth(RmgrId.RM_HEAP_ID, 0x80, main, new byte[4]), "Heap INSERT record: block 0 data of 4 bytes");
    }

    @Test
    void heapUpdateShortOfItsPrefixAndSuffixLengthsIsRefused() {
        byte[] main = new byte[14];
        passes(synth(RmgrId.RM_HEAP_ID, 0x20, main, new byte[5]));
        main[7] = 0x20 | 0x40; // XLH_UPDATE_PREFIX_FROM_OLD | XLH_UPDATE_SUFFIX_FROM_OLD
        passes(synth(RmgrId.RM_HEAP_ID, 0x40, main, new byte[9]));
        refused(synth(RmgrId.RM_HEAP_ID, 0x40, main, new byte[8]), "Heap HOT_UPDATE record: block 0 data of 8 bytes, at least 9");
    }

    @Test
    void heap2OffsetArraysShortOfTheirCountsAreRefused() {
        // PRUNE: nredirected 2, ndead 1: (2 * 2 + 1) offsets
        byte[] prune = cat(new byte[4], le(2, 1));
        passes(synth(RmgrId.RM_HEAP2_ID, 0x10, prune, new byte[10]));
        passes(synth(RmgrId.RM_HEAP2_ID, 0x10, prune, new byte[14]));
        refused(synth(RmgrId.RM_HEAP2_ID, 0x10, prune, new byte[8]), "Heap2 PRUNE record: block 0 data of 8 bytes, at least 10");
        refused(synth(RmgrId.RM_HEAP2_ID, 0x10, prune, new byte[11]), "of odd length 11");
        // VACUUM: nunused 3
        passes(synth(RmgrId.RM_HEAP2_ID, 0x20, le(3), new byte[6]));
        refused(synth(RmgrId.RM_HEAP2_ID, 0x20, le(3), new byte[5]), "Heap2 VACUUM record: block 0 data of 5 bytes, at least 6");
        // FREEZE_PAGE: ntuples 2 of 12 bytes
        byte[] freeze = cat(new byte[4], le(2));
        passes(synth(RmgrId.RM_HEAP2_ID, 0x30, freeze, new byte[24]));
        refused(synth(RmgrId.RM_HEAP2_ID, 0x30, freeze, new byte[23]), "Heap2 FREEZE_PAGE record: block 0 data of 23 bytes, at least 24");
    }

    @Test
    void multiInsertTuplesCutShortAreRefused() {
        // flags, pad, ntuples 2, offsets 1 and 2
        byte[] main = cat(new byte[] {0, 0}, le(2, 1, 2));
        // tuple 1: datalen 3 (7 + 3 = 10 bytes), tuple 2 at 10: datalen 1 (7 + 1)
        byte[] data = cat(cat(le(3), new byte[8]), cat(le(1), new byte[6]));
        passes(synth(RmgrId.RM_HEAP2_ID, 0x50, main, data));
        refused(synth(RmgrId.RM_HEAP2_ID, 0x50, main, Arrays.copyOf(data, data.length - 1)), "ends inside tuple 2 of 2");
        refused(synth(RmgrId.RM_HEAP2_ID, 0x50, main, new byte[0]), "ends inside tuple 1 of 2");
        // without XLOG_HEAP_INIT_PAGE the offsets must all be in the main data
        refused(synth(RmgrId.RM_HEAP2_ID, 0x50, Arrays.copyOf(main, 6), data), "2 offsets announced");
        passes(synth(RmgrId.RM_HEAP2_ID, 0x50 | 0x80, Arrays.copyOf(main, 4), data));
    }

    @Test
    void btreeTuplesMetadataAndOffsetArraysCutShortAreRefused() {
        byte[] insertMain = le(1);
        passes(synth(RmgrId.RM_BTREE_ID, 0x00, insertMain, new byte[16]));
        refused(synth(RmgrId.RM_BTREE_ID, 0x00, insertMain, new byte[7]), "Btree INSERT_LEAF record: block 0 data of 7 bytes, at least 8");
        refused(synth(RmgrId.RM_BTREE_ID, 0x50, insertMain, new byte[9]), "Btree INSERT_POST record: block 0 data of 9 bytes, at least 10");
        refused(synth(RmgrId.RM_BTREE_ID, 0x20, insertMain, new byte[8], null, new byte[24]),
            "Btree INSERT_META record: block 2 data of 24 bytes, at least 25");
        // SPLIT_L: new item and high key on the left; the right page's items
        byte[] split = new byte[10];
        passes(synth(RmgrId.RM_BTREE_ID, 0x30, split, new byte[16], new byte[8]));
        refused(synth(RmgrId.RM_BTREE_ID, 0x30, split, new byte[8], new byte[8]), "Btree SPLIT_L record: block 0 data of 8 bytes, at least 16");
        passes(synth(RmgrId.RM_BTREE_ID, 0x40, split, new byte[8], new byte[8]));
        refused(synth(RmgrId.RM_BTREE_ID, 0x40, split, new byte[8], new byte[0]), "Btree SPLIT_R record: block 1 data of 0 bytes");
        // DEDUP: nintervals 2 of 4 bytes
        refused(synth(RmgrId.RM_BTREE_ID, 0x60, le(2), new byte[7]), "Btree DEDUP record: block 0 data of 7 bytes, at least 8");
        // VACUUM: ndeleted 1, nupdated 1: two offsets, then xl_btree_update (ndeletedtids 2, two u16)
        byte[] vac = le(1, 1);
        byte[] data = cat(le(5, 6), le(2, 1, 2));
        passes(synth(RmgrId.RM_BTREE_ID, 0xC0, vac, data));
        refused(synth(RmgrId.RM_BTREE_ID, 0xC0, vac, Arrays.copyOf(data, 9)), "ends inside update 1 of 1");
        refused(synth(RmgrId.RM_BTREE_ID, 0xC0, vac, Arrays.copyOf(data, 3)), "block 0 data of 3 bytes, at least 4");
        // DELETE: the counts after latestRemovedXid
        refused(synth(RmgrId.RM_BTREE_ID, 0x70, cat(new byte[4], vac), Arrays.copyOf(data, 9)), "Btree DELETE record");
        // NEWROOT above the leaves has downlinks; the metapage
        byte[] root = cat(new byte[4], cat(le(1), le(0)));
        refused(synth(RmgrId.RM_BTREE_ID, 0xA0, root, new byte[0], null, new byte[25]), "Btree NEWROOT record: block 0 data of 0 bytes");
        passes(synth(RmgrId.RM_BTREE_ID, 0xA0, new byte[8], new byte[0], null, new byte[25]));
        refused(synth(RmgrId.RM_BTREE_ID, 0xE0, new byte[0], new byte[24]), "Btree META_CLEANUP record: block 0 data of 24 bytes");
        refused(synth(RmgrId.RM_BTREE_ID, 0x90, new byte[36], new byte[0], new byte[0], new byte[0], null, new byte[3]),
            "Btree UNLINK_PAGE_META record: block 4 data of 3 bytes");
    }

    /**
     * _bt_unlink_halfdead_page registers the left sibling (block 1) only when the deleted page
     * has one: a page deletion at the left edge of its level is a legal record without it
     * (RedoConsistencyIT's workload writes such records; the check refused them before).
     */
    @Test
    void aPageDeletionAtTheLeftEdgeHasNoLeftSiblingBlock() {
        passes(synth(RmgrId.RM_BTREE_ID, 0x80, new byte[36], new byte[0], null, new byte[0]));
        passes(synth(RmgrId.RM_BTREE_ID, 0x90, new byte[36], new byte[0], null, new byte[0], null, new byte[25]));
        refused(synth(RmgrId.RM_BTREE_ID, 0x80, new byte[36], new byte[0], new byte[0]), "Btree UNLINK_PAGE record: no block 2");
    }

    @Test
    void aBlockRestoredFromItsImageNeedsNoData() {
        WalRecord fpi = records.stream().filter(r -> r.rmid() == RmgrId.RM_HEAP_ID && (r.info() & 0x70) == 0
            && r.block(0).hasImage() && r.block(0).applyImage() && r.block(0).data() == null).findFirst().orElse(null);
        if (fpi != null) {
            passes(fpi);
        }
        BlockRef b = new BlockRef(0, new RelTag(1663, 5, 16384, ForkNumber.MAIN), 1, BlockRef.BKPBLOCK_HAS_IMAGE, true,
            true, BlockRef.BKPIMAGE_APPLY, 0, 0, new byte[8192], null);
        WalRecord shell = records.get(0);
        passes(new WalRecord(shell.startLsn(), shell.endLsn(), shell.prevLsn(), 700, RmgrId.RM_HEAP_ID, 0x00, 0, 0,
            List.of(b), new byte[] {1, 0, 0}, shell.raw()));
    }

    @Test
    void fullPageImageRecordsWithoutAnImageAreRefused() {
        refused(synth(RmgrId.RM_XLOG_ID, 0xB0, new byte[0], new byte[0]), "XLOG FPI record: block 0 has no full-page image");
        passes(synth(RmgrId.RM_XLOG_ID, 0xA0, new byte[0], new byte[0])); // FPI_FOR_HINT skips such blocks
        WalRecord real = records.stream().filter(r -> r.rmid() == RmgrId.RM_XLOG_ID && r.rmgrInfo() == 0xB0)
            .findFirst().orElseThrow();
        passes(real);
    }

    @Test
    void aSequenceRecordWithoutATupleIsRefused() {
        refused(synth(RmgrId.RM_SEQ_ID, 0x00, new byte[20], new byte[0]), "Sequence LOG record: main data of 20 bytes, at least 35");
    }
    /**
     * What the ingest applies to relation files and databases is parsed at the check, not
     * first when the batch holding the record is written (which would fail every good record
     * in that batch).
     */
    @Test
    void storageAndDatabaseChangesShortOfWhatTheyAnnounceAreRefused() {
        ByteBuffer drop = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(16400).putInt(3).putInt(1663);
        refused(synth(RmgrId.RM_DBASE_ID, 0x20, drop.array()), "Database record is malformed");
        passes(synth(RmgrId.RM_DBASE_ID, 0x20, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(16400)
            .putInt(1).putInt(1663).array()));
        ByteBuffer relmap = ByteBuffer.allocate(12 + 100).order(ByteOrder.LITTLE_ENDIAN).putInt(5).putInt(1663).putInt(100);
        refused(synth(RmgrId.RM_RELMAP_ID, 0x00, relmap.array()), "RelMap record is malformed");
        ByteBuffer map = ByteBuffer.allocate(12 + 512).order(ByteOrder.LITTLE_ENDIAN).putInt(5).putInt(1663).putInt(512);
        passes(synth(RmgrId.RM_RELMAP_ID, 0x00, map.array()));
        refused(synth(RmgrId.RM_RELMAP_ID, 0x00, Arrays.copyOf(map.array(), 300)), "RelMap record is malformed");
    }
}
