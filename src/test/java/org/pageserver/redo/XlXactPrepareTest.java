package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/** The pg_twophase state file built from a PREPARE record (twophase.c layout, PG15). */
class XlXactPrepareTest {
    /** A state as EndPrepare lays it out: header, gid, two subxacts, the end sentinel. */
    static byte[] state(int xid, String gid) {
        byte[] g = (gid + "\0").getBytes(StandardCharsets.UTF_8);
        int gidAligned = (g.length + 7) & ~7;
        int len = 72 + gidAligned + 8 + 8;
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, XlXactPrepare.TWOPHASE_MAGIC).putInt(4, len + 4).putInt(8, xid).putInt(12, 5)
            .putLong(16, 123456789L).putInt(24, 10).putInt(28, 2).putShort(54, (short) g.length);
        b.position(72);
        b.put(g);
        b.putInt(72 + gidAligned, xid + 1).putInt(72 + gidAligned + 4, xid + 2);
        b.putInt(72 + gidAligned + 8, 0).put(72 + gidAligned + 12, (byte) 0); // TWOPHASE_RM_END_ID sentinel
        return b.array();
    }

    static WalRecord rec(int info, byte[] main) {
        return new WalRecord(Lsn.parse("0/100"), Lsn.parse("0/200"), 0, 1000, RmgrId.RM_XACT_ID, info, 0, 0, List.of(),
            main, new byte[0]);
    }

    @Test
    void theStateFileIsTheDataAndItsCrc() {
        byte[] data = state(1000, "keep me");
        XlXactPrepare p = XlXactPrepare.parse(rec(0x10, data));
        assertEquals(1000, p.xid());
        assertEquals("keep me", p.gid());
        assertArrayEquals(new int[] {1001, 1002}, p.subxacts());
        assertEquals("pg_twophase/000003E8", p.path());
        byte[] file = p.stateFile();
        assertEquals(data.length + 4, file.length);
        assertEquals(ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getInt(4), file.length); // total_len
        CRC32C crc = new CRC32C();
        crc.update(data);
        assertEquals((int) crc.getValue(), ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getInt(data.length));
        assertTrue(XlXactPrepare.isPrepare(rec(0x10, data)));
        assertTrue(XlXactPrepare.isPrepare(rec(0x90, data))); // XLOG_XACT_HAS_INFO does not matter
    }

    @Test
    void commitAndAbortPreparedFinishTheTwophaseXid() {
        ByteBuffer commit = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L)
            .putInt(8, 1 << 4).putInt(12, 1000); // xinfo HAS_TWOPHASE, then xl_xact_twophase
        assertEquals(1000, XlXactPrepare.finished(rec(0x30 | 0x80, commit.array())));
        assertEquals(1000, XlXactPrepare.finished(rec(0x40 | 0x80, commit.array())));
        assertNull(XlXactPrepare.finished(rec(0x00, new byte[8])));
    }

    @Test
    void malformedStatesAreRefusedClearly() {
        byte[] good = state(1000, "g");
        byte[] magic = good.clone();
        magic[0] ^= 1;
        assertTrue(assertThrows(RedoException.class, () -> XlXactPrepare.parse(rec(0x10, magic))).getMessage()
            .startsWith("malformed Transaction PREPARE record: invalid magic number"));
        byte[] len = good.clone();
        len[4] ^= 8;
        assertThrows(RedoException.class, () -> XlXactPrepare.parse(rec(0x10, len)));
        byte[] subs = good.clone();
        ByteBuffer.wrap(subs).order(ByteOrder.LITTLE_ENDIAN).putInt(28, 1 << 20);
        assertThrows(RedoException.class, () -> XlXactPrepare.parse(rec(0x10, subs)));
        byte[] gid = good.clone();
        ByteBuffer.wrap(gid).order(ByteOrder.LITTLE_ENDIAN).putShort(54, (short) 300);
        assertThrows(RedoException.class, () -> XlXactPrepare.parse(rec(0x10, gid)));
        assertThrows(RedoException.class, () -> XlXactPrepare.parse(rec(0x10, new byte[40])));
        Random rnd = new Random(11);
        for (int i = 0; i < 500; i++) {
            byte[] g = new byte[rnd.nextInt(300)];
            rnd.nextBytes(g);
            if (rnd.nextBoolean() && g.length >= 8) {
                ByteBuffer.wrap(g).order(ByteOrder.LITTLE_ENDIAN).putInt(0, XlXactPrepare.TWOPHASE_MAGIC)
                    .putInt(4, g.length + 4);
            }
            try {
                XlXactPrepare.parse(rec(0x10, g));
            } catch (RedoException expected) {
                assertTrue(expected.getMessage().startsWith("malformed Transaction PREPARE record"));
            }
        }
    }
}
