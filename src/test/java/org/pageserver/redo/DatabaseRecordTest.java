package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Database records in the layouts of dbcommands_xlog.h (PG15). The FILE_COPY form is in the
 * golden fixture (src/test/resources/wal: pg_waldump lists it as "CREATE_FILE_COPY copy dir
 * 1663/1 to 1663/16442"); all three are also built here byte by byte, and WorkloadPagesIT
 * checks them against a real primary.
 */
class DatabaseRecordTest {
    static WalRecord rec(int info, byte[] main) {
        return new WalRecord(Lsn.parse("0/1000000"), Lsn.parse("0/1000040"), 0, 0, RmgrId.RM_DBASE_ID, info, 0, 0,
            List.of(), main, new byte[0]);
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void theFixturesCreateDatabase() throws Exception {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (String seg : new String[] {"15", "16", "17", "18", "19", "1A", "1B"}) {
            try (var in = new java.util.zip.GZIPInputStream(getClass().getResourceAsStream("/wal/0000000100000000000000" + seg + ".gz"))) {
                all.write(in.readAllBytes());
            }
        }
        byte[] wal = all.toByteArray();
        List<DatabaseRecord> found = new java.util.ArrayList<>();
        new org.pageserver.protocol.wal.WalDecoder(Lsn.parse("0/1500000"), 1 << 20).feed(wal, 0, wal.length, r -> {
            DatabaseRecord d = DatabaseRecord.of(r);
            if (d != null) {
                assertEquals(Lsn.parse("0/161CD48"), r.startLsn());
                found.add(d);
            }
        });
        assertEquals(List.of(new DatabaseRecord.FileCopy(16442, 1663, 1, 1663)), found);
    }

    @Test
    void theThreeRecordTypes() {
        assertEquals(new DatabaseRecord.FileCopy(16400, 1663, 1, 1663),
            DatabaseRecord.of(rec(0x00, le(16).putInt(16400).putInt(1663).putInt(1).putInt(1663).array())));
        assertEquals(new DatabaseRecord.WalLog(16401, 1663), DatabaseRecord.of(rec(0x10, le(8).putInt(16401).putInt(1663).array())));
        assertEquals(new DatabaseRecord.Drop(16402, List.of(1663, 16500)),
            DatabaseRecord.of(rec(0x20, le(16).putInt(16402).putInt(2).putInt(1663).putInt(16500).array())));
        assertNull(DatabaseRecord.of(new WalRecord(Lsn.parse("0/1000000"), Lsn.parse("0/1000040"), 0, 0,
            RmgrId.RM_HEAP_ID, 0, 0, 0, List.of(), new byte[3], new byte[0])));
        assertEquals("base/16401", DatabaseRecord.databasePath(1663, 16401));
        assertEquals("pg_tblspc/16500/PG_15_202209061/16401", DatabaseRecord.databasePath(16500, 16401));
    }

    @Test
    void garbageIsARedoExceptionWithTheLsn() {
        for (byte[] main : new byte[][] {{}, {1, 2, 3}, le(12).putInt(1).putInt(2).putInt(3).array()}) {
            RedoException e = assertThrows(RedoException.class, () -> DatabaseRecord.of(rec(0x00, main)));
            assertTrue(e.getMessage().endsWith(" at 0/1000000"), e.getMessage());
        }
        assertThrows(RedoException.class, () -> DatabaseRecord.of(rec(0x20, le(8).putInt(1).putInt(1000).array())));
        assertThrows(RedoException.class, () -> DatabaseRecord.of(rec(0x20, le(8).putInt(1).putInt(-1).array())));
        assertThrows(RedoException.class, () -> DatabaseRecord.of(rec(0x30, le(8).array())));
    }
}
