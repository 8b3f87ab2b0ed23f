package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/** xl_tblspc_create_rec and xl_tblspc_drop_rec, and what the ingest check says of bad ones. */
class TablespaceRecordTest {
    /** A record of {@code rmid}/{@code info} with this main data and no block. */
    static WalRecord record(int rmid, int info, byte[] main) {
        return new WalRecord(Lsn.parse("0/1000028"), Lsn.parse("0/1000060"), 0x1000000L, 0, rmid, info, 0, 0,
            List.of(), main, new byte[0]);
    }

    static byte[] create(int oid, String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + p.length + 1).order(ByteOrder.LITTLE_ENDIAN).putInt(oid).put(p).put((byte) 0).array();
    }

    @Test
    void createCarriesTheOidAndLocation() {
        WalRecord r = record(RmgrId.RM_TBLSPC_ID, TablespaceRecord.XLOG_TBLSPC_CREATE, create(16390, "/srv/pg ts"));
        TablespaceRecord.Create c = (TablespaceRecord.Create) TablespaceRecord.of(r);
        assertEquals(16390, c.tablespaceId());
        assertEquals("/srv/pg ts", c.location());
        RecordCheck.check(r);
    }

    @Test
    void anEmptyLocationIsAnInPlaceTablespace() {
        WalRecord r = record(RmgrId.RM_TBLSPC_ID, TablespaceRecord.XLOG_TBLSPC_CREATE, create(16390, ""));
        assertTrue(((TablespaceRecord.Create) TablespaceRecord.of(r)).inPlace());
    }

    @Test
    void dropCarriesTheOid() {
        byte[] m = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(-5).array();
        WalRecord r = record(RmgrId.RM_TBLSPC_ID, TablespaceRecord.XLOG_TBLSPC_DROP, m);
        assertEquals(-5, TablespaceRecord.of(r).tablespaceId());
        assertEquals("pg_tblspc/4294967291", TablespaceRecord.linkPath(-5));
    }

    @Test
    void otherResourceManagersHaveNone() {
        assertNull(TablespaceRecord.of(record(RmgrId.RM_DBASE_ID, 0x20, new byte[8])));
    }

    @Test
    void aPathWithoutItsNulIsRefused() {
        byte[] m = create(16390, "/srv/ts");
        WalRecord r = record(RmgrId.RM_TBLSPC_ID, TablespaceRecord.XLOG_TBLSPC_CREATE,
            java.util.Arrays.copyOf(m, m.length - 1));
        RedoException e = assertThrows(RedoException.class, () -> RecordCheck.check(r));
        assertTrue(e.getMessage().contains("malformed Tablespace CREATE record: tablespace path is not NUL-terminated"),
            e.getMessage());
    }

    @Test
    void shortMainDataAndUnknownTypesAreRefused() {
        RedoException shortDrop = assertThrows(RedoException.class, () -> RecordCheck.check(
            record(RmgrId.RM_TBLSPC_ID, TablespaceRecord.XLOG_TBLSPC_DROP, new byte[3])));
        assertTrue(shortDrop.getMessage().contains("at least 4 needed"), shortDrop.getMessage());
        RedoException unknown = assertThrows(RedoException.class, () -> RecordCheck.check(
            record(RmgrId.RM_TBLSPC_ID, 0x20, new byte[8])));
        assertTrue(unknown.getMessage().contains("unknown Tablespace record type"), unknown.getMessage());
    }

    @Test
    void randomMainDataGivesOnlyRedoExceptions() {
        Random rnd = new Random(15);
        for (int i = 0; i < 2000; i++) {
            byte[] m = new byte[rnd.nextInt(12)];
            rnd.nextBytes(m);
            int info = rnd.nextBoolean() ? TablespaceRecord.XLOG_TBLSPC_CREATE : rnd.nextInt(16) << 4;
            WalRecord r = record(RmgrId.RM_TBLSPC_ID, info, m);
            try {
                RecordCheck.check(r);
                TablespaceRecord.of(r);
            } catch (RedoException expected) {
                // the only failure allowed
            }
        }
    }
}
