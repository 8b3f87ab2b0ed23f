package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile.CheckPoint;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/** The counters a shutdown at some LSN must carry, advanced record by record as recovery does. */
class CheckPointTrackerTest {
    static CheckPoint seed(long nextXid) {
        return new CheckPoint(Lsn.parse("0/100"), 1, 1, true, nextXid, 20000, 10, 100, 700, 1, 1, 1, 0, 0, 0, 650);
    }

    static WalRecord rec(int xid, int rmid, int info, byte[] main) {
        return new WalRecord(Lsn.parse("0/200"), Lsn.parse("0/300"), 0, xid, rmid, info, 0, 0, List.of(), main,
            new byte[0]);
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void xidsOidsAndMultisAdvance() {
        CheckPointTracker t = new CheckPointTracker(seed(1000));
        t.apply(rec(1500, RmgrId.RM_HEAP_ID, 0x00, new byte[3]));
        t.apply(rec(0, RmgrId.RM_XLOG_ID, 0x30, le(4).putInt(0, 28192).array()));
        t.apply(rec(0, RmgrId.RM_MULTIXACT_ID, 0x20, le(28).putInt(0, 15).putInt(4, 150).putInt(8, 2)
            .putInt(12, 1400).putInt(16, 1).putInt(20, 1600).putInt(24, 1).array()));
        CheckPoint c = t.shutdownCheckPoint(Lsn.parse("0/900028"), 2, 1, 42);
        assertEquals(2, c.thisTimeLineId());
        assertEquals(1, c.prevTimeLineId());
        assertEquals(1601, c.nextXidValue());
        assertEquals(28192, c.nextOid());
        assertEquals(16, c.nextMulti());
        assertEquals(152, c.nextMultiOffset());
        assertEquals(0, c.oldestActiveXid());
        assertEquals(Lsn.parse("0/900028"), c.redo());
        // older values never move them back
        t.apply(rec(1200, RmgrId.RM_HEAP_ID, 0x00, new byte[3]));
        assertEquals(1601, t.shutdownCheckPoint(Lsn.INVALID, 1, 1, 0).nextXidValue());
    }

    @Test
    void theEpochGoesOnAtWraparound() {
        CheckPointTracker t = new CheckPointTracker(seed((3L << 32) | 0xFFFFFFF0L));
        t.apply(rec(0xFFFFFFFF, RmgrId.RM_HEAP_ID, 0x00, new byte[3]));
        CheckPoint c = t.shutdownCheckPoint(Lsn.INVALID, 1, 1, 0);
        assertEquals(4, c.nextXidEpoch());
        assertEquals(3, c.nextXidValue()); // FirstNormalTransactionId: the special xids are skipped
        t.apply(rec(10, RmgrId.RM_HEAP_ID, 0x00, new byte[3]));
        assertEquals((4L << 32) | 11, t.shutdownCheckPoint(Lsn.INVALID, 1, 1, 0).nextXid());
    }

    @Test
    void anOnlineCheckpointOnlyAdvancesAShutdownOneReplaces() {
        CheckPointTracker t = new CheckPointTracker(seed(1000));
        CheckPoint older = new CheckPoint(Lsn.parse("0/50"), 1, 1, true, 900, 99999, 5, 50, 600, 1, 1, 1, 0, 0, 0, 0);
        t.apply(rec(0, RmgrId.RM_XLOG_ID, 0x10, older.toBytes()));
        CheckPoint c = t.shutdownCheckPoint(Lsn.INVALID, 1, 1, 0);
        assertEquals(1000, c.nextXidValue());
        assertEquals(20000, c.nextOid());
        assertEquals(10, c.nextMulti());
        assertEquals(700, c.oldestXid());
        t.apply(rec(0, RmgrId.RM_XLOG_ID, 0x00, older.toBytes()));
        assertEquals(900, t.shutdownCheckPoint(Lsn.INVALID, 1, 1, 0).nextXidValue());
    }

    @Test
    void shortDataIsRefused() {
        CheckPointTracker t = new CheckPointTracker(seed(1000));
        assertThrows(RedoException.class, () -> t.apply(rec(0, RmgrId.RM_XLOG_ID, 0x30, new byte[2])));
        assertThrows(RedoException.class, () -> t.apply(rec(0, RmgrId.RM_MULTIXACT_ID, 0x20,
            le(12).putInt(8, 5).array())));
        assertThrows(RedoException.class, () -> t.apply(rec(0, RmgrId.RM_XACT_ID, 0x50, le(8).putInt(4, 9).array())));
    }
}
