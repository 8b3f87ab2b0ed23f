package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
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
import org.pageserver.protocol.Lsn;
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

    @Test
    void resourceManagersNotRedoneYetPass() {
        WalRecord r = records.get(0);
        for (int rmid : new int[] {RmgrId.RM_GIN_ID, RmgrId.RM_GIST_ID, RmgrId.RM_HASH_ID, RmgrId.RM_BRIN_ID,
            RmgrId.RM_SPGIST_ID, RmgrId.RM_GENERIC_ID, RmgrId.RM_LOGICALMSG_ID}) {
            assertDoesNotThrow(() -> RecordCheck.check(with(r, rmid, 0xF0, new byte[0])));
        }
    }
}
