package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/** Parsing of xl_smgr_create, xl_smgr_truncate and the relfilenodes of xl_xact_commit (PG15 layouts). */
class StorageEffectsTest {
    static WalRecord rec(int rmid, int info, byte[] main) {
        return new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 7, rmid, info, 0, 0, List.of(), main, new byte[0]);
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void createTruncateAndCommitDrops() {
        StorageEffects c = StorageEffects.of(rec(RmgrId.RM_SMGR_ID, 0x10, le(16).putInt(1663).putInt(5).putInt(16384)
            .putInt(2).array()));
        assertEquals(List.of(new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP)), c.created());

        StorageEffects t = StorageEffects.of(rec(RmgrId.RM_SMGR_ID, 0x20, le(20).putInt(40000).putInt(1663).putInt(5)
            .putInt(16384).putInt(3).array()));
        assertEquals(List.of(new StorageEffects.Truncation(new RelTag(1663, 5, 16384, ForkNumber.MAIN), 40000),
            new StorageEffects.Truncation(new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP), 2)), t.truncations());
        assertEquals(1, StorageEffects.vmBlocksAfterTruncate(VisibilityMap.HEAPBLOCKS_PER_PAGE));
        assertEquals(0, StorageEffects.vmBlocksAfterTruncate(0));

        // commit with dbinfo, 2 subxacts, 1 dropped relfilenode
        byte[] commit = le(8 + 4 + 8 + 4 + 8 + 4 + 12).putLong(123).putInt(1 | 2 | 4).putInt(5).putInt(1663).putInt(2)
            .putInt(100).putInt(101).putInt(1).putInt(1663).putInt(5).putInt(16390).array();
        StorageEffects d = StorageEffects.of(rec(RmgrId.RM_XACT_ID, 0x80, commit));
        assertEquals(4, d.dropped().size());
        assertTrue(d.dropped().contains(new RelTag(1663, 5, 16390, ForkNumber.FSM)));
        assertTrue(StorageEffects.of(rec(RmgrId.RM_XACT_ID, 0x00, le(8).putLong(1).array())).isEmpty());
    }

    /**
     * FSM layout (freespace.c): block 0 the root, 1 the first level-1 page, 2..4070 the first
     * 4069 leaves, 4071 the second level-1 page, 4072 leaf 4069. A truncation keeps the leaf of
     * the first removed heap block unless that block is the leaf's first slot.
     */
    @Test
    void theFreeSpaceMapShrinksAsFreeSpaceMapPrepareTruncateRelComputes() {
        assertEquals(2, StorageEffects.fsmBlocksAfterTruncate(0));
        assertEquals(3, StorageEffects.fsmBlocksAfterTruncate(1));
        assertEquals(3, StorageEffects.fsmBlocksAfterTruncate(100));
        assertEquals(3, StorageEffects.fsmBlocksAfterTruncate(4069));
        assertEquals(4, StorageEffects.fsmBlocksAfterTruncate(4070));
        assertEquals(4072, StorageEffects.fsmBlocksAfterTruncate(4069 * 4069));
        assertEquals(4073, StorageEffects.fsmBlocksAfterTruncate(4069 * 4069 + 5));
        StorageEffects t = StorageEffects.of(rec(RmgrId.RM_SMGR_ID, 0x20, le(20).putInt(100).putInt(1663).putInt(5)
            .putInt(16384).putInt(7).array()));
        assertEquals(List.of(new StorageEffects.Truncation(new RelTag(1663, 5, 16384, ForkNumber.MAIN), 100),
            new StorageEffects.Truncation(new RelTag(1663, 5, 16384, ForkNumber.FSM), 3),
            new StorageEffects.Truncation(new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP), 1)), t.truncations());
    }

    @Test
    void relationMapUpdatesBecomeFileVersions() {
        byte[] map = new byte[512];
        map[0] = 0x27;
        byte[] main = le(12 + 512).putInt(5).putInt(1663).putInt(512).put(map).array();
        StorageEffects e = StorageEffects.of(rec(RmgrId.RM_RELMAP_ID, 0x00, main));
        assertEquals("base/5/pg_filenode.map", e.relMaps().get(0).path());
        assertEquals(0x27, e.relMaps().get(0).contents()[0]);
        byte[] global = le(12 + 512).putInt(0).putInt(1664).putInt(512).put(map).array();
        assertEquals("global/pg_filenode.map", StorageEffects.of(rec(RmgrId.RM_RELMAP_ID, 0x00, global)).relMaps().get(0).path());
        byte[] shortMap = le(12 + 10).putInt(5).putInt(1663).putInt(512).array();
        assertThrows(RedoException.class, () -> StorageEffects.of(rec(RmgrId.RM_RELMAP_ID, 0x00, shortMap)));
    }

    @Test
    void malformedRecordsAreRedoExceptionsWithTheLsn() {
        byte[][] smgr = {{}, {1, 2, 3}, le(12).putInt(1).putInt(2).putInt(3).array()};
        for (byte[] m : smgr) {
            for (int info : new int[] {0x10, 0x20}) {
                RedoException e = assertThrows(RedoException.class, () -> StorageEffects.of(rec(RmgrId.RM_SMGR_ID, info, m)));
                assertTrue(e.getMessage().endsWith("at 0/100"), e.getMessage());
            }
        }
        byte[] hugeCount = le(16).putLong(0).putInt(4).putInt(Integer.MAX_VALUE).array();
        assertThrows(RedoException.class, () -> StorageEffects.of(rec(RmgrId.RM_XACT_ID, 0x80, hugeCount)));
        byte[] badFork = le(16).putInt(1663).putInt(5).putInt(1).putInt(9).array();
        assertThrows(RedoException.class, () -> StorageEffects.of(rec(RmgrId.RM_SMGR_ID, 0x10, badFork)));
    }
    /**
     * visibilitymap_prepare_truncate (visibilitymap.c, PG15) on the last VM page kept: the bits
     * of the heap blocks cut off are cleared in it (on the primary and in every standby's redo;
     * not WAL-logged unless hints are), so the page is an implicit block of the truncate record.
     * Layout: the page header (24 bytes, MAXALIGNed), then two bits per heap block, 4 per byte.
     */
    @Test
    void theLastVmPageKeptLosesTheBitsOfTheBlocksCutOff() {
        int heapBlocks = 4 * 5 + 2; // byte 5 keeps the bits of heap blocks 20 and 21 only
        WalRecord trunc = rec(RmgrId.RM_SMGR_ID, 0x20, le(20).putInt(heapBlocks).putInt(1663).putInt(5).putInt(16384)
            .putInt(StorageEffects.SMGR_TRUNCATE_HEAP | StorageEffects.SMGR_TRUNCATE_VM).array());
        RelTag vm = new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP);
        assertEquals(List.of(new WalRedo.ImplicitBlock(vm, 0)), WalRedo.implicitBlocks(trunc));
        byte[] page = new byte[Page.BLCKSZ];
        Page.init(page, 0);
        Page.setLsn(page, 0x1234);
        java.util.Arrays.fill(page, 24, Page.BLCKSZ, (byte) 0xFF);
        WalRedo.redoImplicit(trunc, 0, page);
        for (int i = 24; i < 24 + 5; i++) {
            assertEquals((byte) 0xFF, page[i], "bits of heap blocks kept, byte " + i);
        }
        assertEquals(0x0F, page[24 + 5] & 0xFF, "blocks 20, 21 kept, 22, 23 cleared");
        for (int i = 24 + 6; i < Page.BLCKSZ; i++) {
            assertEquals(0, page[i], "byte " + i);
        }
        assertEquals(0x1234, Page.lsn(page), "the page LSN is left alone");
        assertEquals(1, StorageEffects.vmBlocksAfterTruncate(heapBlocks));

        // a truncation on a VM page boundary keeps whole pages: no page content changes
        WalRecord whole = rec(RmgrId.RM_SMGR_ID, 0x20, le(20).putInt(VisibilityMap.HEAPBLOCKS_PER_PAGE).putInt(1663)
            .putInt(5).putInt(16384).putInt(StorageEffects.SMGR_TRUNCATE_HEAP | StorageEffects.SMGR_TRUNCATE_VM).array());
        assertEquals(List.of(), WalRedo.implicitBlocks(whole));
        // nor does one that leaves the VM alone, and a new (all-zero) page stays new
        WalRecord heapOnly = rec(RmgrId.RM_SMGR_ID, 0x20, le(20).putInt(heapBlocks).putInt(1663).putInt(5).putInt(16384)
            .putInt(StorageEffects.SMGR_TRUNCATE_HEAP).array());
        assertEquals(List.of(), WalRedo.implicitBlocks(heapOnly));
        byte[] fresh = new byte[Page.BLCKSZ];
        WalRedo.redoImplicit(trunc, 0, fresh);
        assertTrue(Page.isNew(fresh));
    }
}
