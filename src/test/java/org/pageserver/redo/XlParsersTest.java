package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Garbage for every Xl parser (HeapXlog, NbtXlog, ReplicationXlog) and for the ingest check of
 * their resource managers: main data cut short is refused naming its length and the record's
 * LSN, and random bytes give a parsed struct or a RedoException, never another exception.
 */
class XlParsersTest {
    static final Lsn START = Lsn.parse("0/1A2B3C0");

    /** One parser: the record type it reads and its struct's SizeOf*. */
    record Parser(String struct, int rmid, int info, String type, int size, Function<WalRecord, ?> parse) {
    }

    static final List<Parser> PARSERS = List.of(
        new Parser("xl_heap_insert", RmgrId.RM_HEAP_ID, 0x00, "INSERT", HeapXlog.XlHeapInsert.SIZE, HeapXlog.XlHeapInsert::parse),
        new Parser("xl_heap_delete", RmgrId.RM_HEAP_ID, 0x10, "DELETE", HeapXlog.XlHeapDelete.SIZE, HeapXlog.XlHeapDelete::parse),
        new Parser("xl_heap_update", RmgrId.RM_HEAP_ID, 0x20, "UPDATE", HeapXlog.XlHeapUpdate.SIZE, HeapXlog.XlHeapUpdate::parse),
        new Parser("xl_heap_update", RmgrId.RM_HEAP_ID, 0x40, "HOT_UPDATE", HeapXlog.XlHeapUpdate.SIZE, HeapXlog.XlHeapUpdate::parse),
        new Parser("xl_heap_truncate", RmgrId.RM_HEAP_ID, 0x30, "TRUNCATE", HeapXlog.XlHeapTruncate.SIZE, HeapXlog.XlHeapTruncate::parse),
        new Parser("xl_heap_confirm", RmgrId.RM_HEAP_ID, 0x50, "CONFIRM", HeapXlog.XlHeapConfirm.SIZE, HeapXlog.XlHeapConfirm::parse),
        new Parser("xl_heap_lock", RmgrId.RM_HEAP_ID, 0x60, "LOCK", HeapXlog.XlHeapLock.SIZE, HeapXlog.XlHeapLock::parse),
        new Parser("xl_heap_inplace", RmgrId.RM_HEAP_ID, 0x70, "INPLACE", HeapXlog.XlHeapInplace.SIZE, HeapXlog.XlHeapInplace::parse),
        new Parser("xl_heap_rewrite_mapping", RmgrId.RM_HEAP2_ID, 0x00, "REWRITE", HeapXlog.XlHeapRewriteMapping.SIZE,
            HeapXlog.XlHeapRewriteMapping::parse),
        new Parser("xl_heap_prune", RmgrId.RM_HEAP2_ID, 0x10, "PRUNE", HeapXlog.XlHeapPrune.SIZE, HeapXlog.XlHeapPrune::parse),
        new Parser("xl_heap_vacuum", RmgrId.RM_HEAP2_ID, 0x20, "VACUUM", HeapXlog.XlHeapVacuum.SIZE, HeapXlog.XlHeapVacuum::parse),
        new Parser("xl_heap_freeze_page", RmgrId.RM_HEAP2_ID, 0x30, "FREEZE_PAGE", HeapXlog.XlHeapFreezePage.SIZE,
            HeapXlog.XlHeapFreezePage::parse),
        new Parser("xl_heap_visible", RmgrId.RM_HEAP2_ID, 0x40, "VISIBLE", HeapXlog.XlHeapVisible.SIZE, HeapXlog.XlHeapVisible::parse),
        new Parser("xl_heap_multi_insert", RmgrId.RM_HEAP2_ID, 0x50, "MULTI_INSERT", HeapXlog.XlHeapMultiInsert.SIZE,
            HeapXlog.XlHeapMultiInsert::parse),
        new Parser("xl_heap_multi_insert", RmgrId.RM_HEAP2_ID, 0xD0, "MULTI_INSERT", HeapXlog.XlHeapMultiInsert.SIZE,
            HeapXlog.XlHeapMultiInsert::parse),
        new Parser("xl_heap_lock_updated", RmgrId.RM_HEAP2_ID, 0x60, "LOCK_UPDATED", HeapXlog.XlHeapLockUpdated.SIZE,
            HeapXlog.XlHeapLockUpdated::parse),
        new Parser("xl_heap_new_cid", RmgrId.RM_HEAP2_ID, 0x70, "NEW_CID", HeapXlog.XlHeapNewCid.SIZE, HeapXlog.XlHeapNewCid::parse),
        new Parser("xl_btree_insert", RmgrId.RM_BTREE_ID, 0x00, "INSERT_LEAF", NbtXlog.XlBtreeInsert.SIZE, NbtXlog.XlBtreeInsert::parse),
        new Parser("xl_btree_split", RmgrId.RM_BTREE_ID, 0x30, "SPLIT_L", NbtXlog.XlBtreeSplit.SIZE, NbtXlog.XlBtreeSplit::parse),
        new Parser("xl_btree_dedup", RmgrId.RM_BTREE_ID, 0x60, "DEDUP", NbtXlog.XlBtreeDedup.SIZE, NbtXlog.XlBtreeDedup::parse),
        new Parser("xl_btree_delete", RmgrId.RM_BTREE_ID, 0x70, "DELETE", NbtXlog.XlBtreeDelete.SIZE, NbtXlog.XlBtreeDelete::parse),
        new Parser("xl_btree_unlink_page", RmgrId.RM_BTREE_ID, 0x80, "UNLINK_PAGE", NbtXlog.XlBtreeUnlinkPage.SIZE,
            NbtXlog.XlBtreeUnlinkPage::parse),
        new Parser("xl_btree_newroot", RmgrId.RM_BTREE_ID, 0xA0, "NEWROOT", NbtXlog.XlBtreeNewroot.SIZE, NbtXlog.XlBtreeNewroot::parse),
        new Parser("xl_btree_mark_page_halfdead", RmgrId.RM_BTREE_ID, 0xB0, "MARK_PAGE_HALFDEAD",
            NbtXlog.XlBtreeMarkPageHalfdead.SIZE, NbtXlog.XlBtreeMarkPageHalfdead::parse),
        new Parser("xl_btree_vacuum", RmgrId.RM_BTREE_ID, 0xC0, "VACUUM", NbtXlog.XlBtreeVacuum.SIZE, NbtXlog.XlBtreeVacuum::parse),
        new Parser("xl_btree_reuse_page", RmgrId.RM_BTREE_ID, 0xD0, "REUSE_PAGE", NbtXlog.XlBtreeReusePage.SIZE,
            NbtXlog.XlBtreeReusePage::parse),
        new Parser("xl_btree_metadata", RmgrId.RM_BTREE_ID, 0xE0, "META_CLEANUP", NbtXlog.XlBtreeMetadata.SIZE,
            r -> NbtXlog.XlBtreeMetadata.parse(r, 0)),
        new Parser("xl_logical_message", RmgrId.RM_LOGICALMSG_ID, 0x00, "MESSAGE", ReplicationXlog.XlLogicalMessage.SIZE,
            ReplicationXlog.XlLogicalMessage::parse),
        new Parser("xl_replorigin_set", RmgrId.RM_REPLORIGIN_ID, 0x00, "SET", ReplicationXlog.XlReplOriginSet.SIZE,
            ReplicationXlog.XlReplOriginSet::parse),
        new Parser("xl_replorigin_drop", RmgrId.RM_REPLORIGIN_ID, 0x10, "DROP", ReplicationXlog.XlReplOriginDrop.SIZE,
            ReplicationXlog.XlReplOriginDrop::parse));

    static WalRecord record(int rmid, int info, byte[] main, List<BlockRef> blocks) {
        return new WalRecord(START, START.plus(100), 0, 700, rmid, info, 0, 0, blocks, main, new byte[0]);
    }

    /** The struct's bytes: in main data, or for xl_btree_metadata block 0's data. */
    static WalRecord withStruct(Parser p, byte[] bytes) {
        if (p.struct().equals("xl_btree_metadata")) {
            return record(p.rmid(), p.info(), new byte[0], List.of(block(0, bytes, false)));
        }
        return record(p.rmid(), p.info(), bytes, List.of());
    }

    static BlockRef block(int id, byte[] data, boolean image) {
        RelTag rel = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
        int flags = (data != null && data.length > 0 ? BlockRef.BKPBLOCK_HAS_DATA : 0) | (image ? BlockRef.BKPBLOCK_HAS_IMAGE : 0);
        return new BlockRef(id, rel, id + 1, flags, image, image, image ? BlockRef.BKPIMAGE_APPLY : 0, 0, 0,
            image ? new byte[8192] : null, data != null && data.length > 0 ? data : null);
    }

    @Test
    void mainDataShortOfItsStructIsRefusedNamingItsLength() {
        for (Parser p : PARSERS) {
            for (int len = 0; len < p.size(); len++) {
                WalRecord r = withStruct(p, new byte[len]);
                RedoException e = assertThrows(RedoException.class, () -> p.parse().apply(r), p.struct() + " of " + len);
                String where = p.struct().equals("xl_btree_metadata") ? "block 0 data of " : "main data of ";
                String expected = "malformed " + RmgrId.name(p.rmid()) + " " + p.type() + " record: " + where + len
                    + " bytes, at least " + p.size() + " needed at " + START;
                assertEquals(expected, e.getMessage());
            }
        }
    }

    @Test
    void absentMainDataIsRefusedToo() {
        for (Parser p : PARSERS) {
            if (!p.struct().equals("xl_btree_metadata")) {
                assertThrows(RedoException.class, () -> p.parse().apply(record(p.rmid(), p.info(), null, List.of())), p.struct());
            }
        }
    }

    @Test
    void randomMainDataParsesOrIsRefused() {
        Random rnd = new Random(14);
        for (Parser p : PARSERS) {
            int parsed = 0;
            for (int i = 0; i < 3000; i++) {
                byte[] b = new byte[rnd.nextInt(3 * p.size() + 2)];
                rnd.nextBytes(b);
                if (rnd.nextBoolean()) {
                    // small counts, so that some announce no more than there is
                    Arrays.fill(b, Math.min(b.length, 2), Math.min(b.length, p.size()), (byte) rnd.nextInt(3));
                }
                try {
                    assertNotNull(p.parse().apply(withStruct(p, b)));
                    parsed++;
                } catch (RedoException expected) {
                    assertTrue(expected.getMessage().endsWith(" at " + START), expected.getMessage());
                } catch (RuntimeException e) {
                    fail(p.struct() + " of " + b.length + " random bytes threw " + e, e);
                }
            }
            // random sizes of a logical message almost never fit its data: its valid parses are tested below
            assertTrue(parsed > 0 || p.struct().equals("xl_logical_message"), p.struct() + " never parsed random bytes");
        }
    }

    /** The ingest check of every Heap, Heap2, Btree, LogicalMessage and ReplicationOrigin xl_info, with random blocks too. */
    @Test
    void randomRecordsPassOrAreRefusedByTheCheck() {
        Random rnd = new Random(15);
        int[] rmids = {RmgrId.RM_HEAP_ID, RmgrId.RM_HEAP2_ID, RmgrId.RM_BTREE_ID, RmgrId.RM_LOGICALMSG_ID,
            RmgrId.RM_REPLORIGIN_ID};
        for (int rmid : rmids) {
            for (int info = 0; info < 0x100; info += 0x10) {
                for (int i = 0; i < 300; i++) {
                    byte[] main = new byte[rnd.nextInt(64)];
                    rnd.nextBytes(main);
                    List<BlockRef> blocks = new ArrayList<>();
                    for (int id = 0; id < 5; id++) {
                        if (rnd.nextInt(4) != 0) {
                            byte[] d = new byte[rnd.nextInt(40)];
                            rnd.nextBytes(d);
                            blocks.add(block(id, d, rnd.nextInt(5) == 0));
                        }
                    }
                    WalRecord r = record(rmid, info, main, blocks);
                    try {
                        RecordCheck.check(r);
                    } catch (RedoException expected) {
                        assertTrue(expected.getMessage().endsWith(" at " + START), expected.getMessage());
                    } catch (RuntimeException e) {
                        fail(RmgrId.name(rmid) + " xl_info 0x" + Integer.toHexString(info) + " threw " + e, e);
                    }
                }
            }
        }
    }

    // ---- what a logical-level primary adds ----

    static byte[] heapDelete(int flags, int extra) {
        byte[] m = new byte[8 + extra];
        m[7] = (byte) flags;
        return m;
    }

    @Test
    void aDeleteOrUpdateAnnouncingItsOldTupleNeedsItsHeader() {
        for (int flag : new int[] {HeapXlog.XLH_DELETE_CONTAINS_OLD_TUPLE, HeapXlog.XLH_DELETE_CONTAINS_OLD_KEY}) {
            WalRecord cut = record(RmgrId.RM_HEAP_ID, 0x10, heapDelete(flag, 4), List.of());
            RedoException e = assertThrows(RedoException.class, () -> HeapXlog.XlHeapDelete.parse(cut));
            assertTrue(e.getMessage().contains("Heap DELETE record: main data of 12 bytes, at least 13 needed"), e.getMessage());
        }
        byte[] m = heapDelete(HeapXlog.XLH_DELETE_CONTAINS_OLD_KEY, 5 + 10);
        m[8] = 3; // t_infomask2
        m[12] = 24; // t_hoff
        HeapXlog.XlHeapDelete d = HeapXlog.XlHeapDelete.parse(record(RmgrId.RM_HEAP_ID, 0x10, m, List.of()));
        assertEquals(new HeapXlog.XlHeapHeader(3, 0, 24), d.oldTuple());
        assertNull(HeapXlog.XlHeapDelete.parse(record(RmgrId.RM_HEAP_ID, 0x10, heapDelete(0, 0), List.of())).oldTuple());

        byte[] u = new byte[14 + 4];
        u[7] = (byte) HeapXlog.XLH_UPDATE_CONTAINS_OLD_TUPLE;
        RedoException e = assertThrows(RedoException.class,
            () -> HeapXlog.XlHeapUpdate.parse(record(RmgrId.RM_HEAP_ID, 0x40, u, List.of())));
        assertTrue(e.getMessage().contains("Heap HOT_UPDATE record: main data of 18 bytes, at least 19 needed"), e.getMessage());
        byte[] whole = Arrays.copyOf(u, 14 + 5 + 20);
        whole[18] = 24;
        assertEquals(24, HeapXlog.XlHeapUpdate.parse(record(RmgrId.RM_HEAP_ID, 0x20, whole, List.of())).oldTuple().hoff());
    }

    static byte[] rewrite(int numMappings, int mappingBytes) {
        return ByteBuffer.allocate(40 + mappingBytes).order(ByteOrder.LITTLE_ENDIAN).putInt(700).putInt(5).putInt(16384)
            .putInt(0).putLong(72).putInt(numMappings).putInt(0).putLong(0x1A2B3C0L).array();
    }

    @Test
    void aRewriteMappingShortOfItsMappingsIsRefused() {
        HeapXlog.XlHeapRewriteMapping x = HeapXlog.XlHeapRewriteMapping.parse(record(RmgrId.RM_HEAP2_ID, 0x00,
            rewrite(2, 72), List.of()));
        assertEquals(new HeapXlog.XlHeapRewriteMapping(700, 5, 16384, 72, 2, 0x1A2B3C0L), x);
        RedoException e = assertThrows(RedoException.class, () -> HeapXlog.XlHeapRewriteMapping.parse(
            record(RmgrId.RM_HEAP2_ID, 0x00, rewrite(2, 71), List.of())));
        assertTrue(e.getMessage().contains("Heap2 REWRITE record: main data of 111 bytes, at least 112 needed"), e.getMessage());
        assertThrows(RedoException.class, () -> HeapXlog.XlHeapRewriteMapping.parse(
            record(RmgrId.RM_HEAP2_ID, 0x00, rewrite(-1, 72), List.of())));
    }

    static byte[] message(String prefix, boolean nul, String body, long prefixSize, long messageSize) {
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] m = body.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(24 + p.length + (nul ? 1 : 0) + m.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(5).put((byte) 1).put(new byte[3]).putLong(prefixSize).putLong(messageSize).put(p);
        if (nul) {
            b.put((byte) 0);
        }
        return b.put(m).array();
    }

    @Test
    void aLogicalMessageIsItsPrefixAndItsMessageWhole() {
        WalRecord ok = record(RmgrId.RM_LOGICALMSG_ID, 0x00, message("heapxl", true, "hello", 7, 5), List.of());
        assertEquals(new ReplicationXlog.XlLogicalMessage(5, true, "heapxl", 5), ReplicationXlog.XlLogicalMessage.parse(ok));
        RecordCheck.check(ok);
        for (byte[] bad : List.of(message("heapxl", true, "hello", 7, 6), message("heapxl", false, "hello", 6, 5),
            message("heapxl", true, "hello", 0, 5), message("heapxl", true, "hello", -1, 5),
            message("heapxl", true, "hello", 7, Long.MAX_VALUE))) {
            WalRecord r = record(RmgrId.RM_LOGICALMSG_ID, 0x00, bad, List.of());
            RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
            assertTrue(e.getMessage().startsWith("malformed LogicalMessage MESSAGE record: "), e.getMessage());
        }
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(
            record(RmgrId.RM_LOGICALMSG_ID, 0x10, message("heapxl", true, "hello", 7, 5), List.of())));
        assertTrue(e.getMessage().startsWith("unknown LogicalMessage record type (xl_info 0x10)"), e.getMessage());
    }

    @Test
    void aReplicationOriginRecordNamesAnOriginAndNoBlock() {
        byte[] set = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0x2000).putShort((short) 1)
            .put((byte) 1).array();
        WalRecord ok = record(RmgrId.RM_REPLORIGIN_ID, 0x00, set, List.of());
        assertEquals(new ReplicationXlog.XlReplOriginSet(0x2000, 1, true), ReplicationXlog.XlReplOriginSet.parse(ok));
        RecordCheck.check(ok);
        RecordCheck.check(record(RmgrId.RM_REPLORIGIN_ID, 0x10, new byte[] {1, 0}, List.of()));
        RedoException e = assertThrows(RedoException.class,
            () -> RecordCheck.check(record(RmgrId.RM_REPLORIGIN_ID, 0x10, new byte[] {0, 0}, List.of())));
        assertTrue(e.getMessage().contains("ReplicationOrigin DROP record: replication origin 0"), e.getMessage());
        e = assertThrows(RedoException.class, () -> RecordCheck.check(record(RmgrId.RM_REPLORIGIN_ID, 0x00, set,
            List.of(block(0, new byte[4], false)))));
        assertTrue(e.getMessage().contains("ReplicationOrigin SET record: block 0 registered"), e.getMessage());
        e = assertThrows(RedoException.class, () -> RecordCheck.check(record(RmgrId.RM_REPLORIGIN_ID, 0x20, set, List.of())));
        assertTrue(e.getMessage().startsWith("unknown ReplicationOrigin record type (xl_info 0x20)"), e.getMessage());
    }
}
