package org.pageserver.protocol.replication;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

class ReplicationMessageTest {
    @Test
    void xlogDataAndKeepaliveAsWalsenderSendsThem() {
        byte[] w = ByteBuffer.allocate(25 + 3).put((byte) 'w').putLong(0x16B374D848L).putLong(0x17000000L).putLong(42)
            .put(new byte[] {1, 2, 3}).array();
        ReplicationMessage.XLogData d = (ReplicationMessage.XLogData) ReplicationMessage.parseStreaming(w);
        assertEquals(Lsn.parse("16/B374D848"), d.dataStart());
        assertEquals(Lsn.parse("0/17000000"), d.walEnd());
        assertArrayEquals(new byte[] {1, 2, 3}, d.data());
        byte[] k = ByteBuffer.allocate(18).put((byte) 'k').putLong(7).putLong(8).put((byte) 1).array();
        assertEquals(new ReplicationMessage.PrimaryKeepalive(new Lsn(7), 8, true), ReplicationMessage.parseStreaming(k));
    }

    @Test
    void xlogDataAndKeepaliveAsThePageserverSendsThem() {
        byte[] wal = {9, 1, 2, 3, 9};
        byte[] w = ReplicationMessage.XLogData.toBytes(Lsn.parse("0/3000100"), Lsn.parse("0/3000200"), 42, wal, 1, 3);
        ReplicationMessage.XLogData d = (ReplicationMessage.XLogData) ReplicationMessage.parseStreaming(w);
        assertEquals(new ReplicationMessage.XLogData(Lsn.parse("0/3000100"), Lsn.parse("0/3000200"), 42, d.data()), d);
        assertArrayEquals(new byte[] {1, 2, 3}, d.data());
        ReplicationMessage.PrimaryKeepalive k = new ReplicationMessage.PrimaryKeepalive(new Lsn(7), 8, true);
        assertEquals(k, ReplicationMessage.parseStreaming(k.toBytes()));
    }

    @Test
    void statusAndHotStandbyFeedbackAsAStandbySendsThem() {
        ReplicationMessage.StandbyStatusUpdate u = new ReplicationMessage.StandbyStatusUpdate(new Lsn(1), new Lsn(2),
            new Lsn(3), 4, true);
        assertEquals(u, ReplicationMessage.parseFromStandby(u.toBytes()));
        byte[] h = ByteBuffer.allocate(25).put((byte) 'h').putLong(5).putInt(-6).putInt(1).putInt(0).putInt(0).array();
        assertEquals(new ReplicationMessage.HotStandbyFeedback(5, -6, 1, 0, 0), ReplicationMessage.parseFromStandby(h));
        IllegalArgumentException shortOne = assertThrows(IllegalArgumentException.class,
            () -> ReplicationMessage.parseFromStandby(java.util.Arrays.copyOf(h, 24)));
        assertEquals("hot standby feedback message must be 25 bytes, got 24", shortOne.getMessage());
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
            () -> ReplicationMessage.parseFromStandby(new byte[] {'w'}));
        assertEquals("unexpected message type \"w\"", other.getMessage());
    }

    @Test
    void standbyStatusRoundTrips() {
        ReplicationMessage.StandbyStatusUpdate u = new ReplicationMessage.StandbyStatusUpdate(new Lsn(1), new Lsn(2),
            new Lsn(3), 4, false);
        byte[] b = u.toBytes();
        assertEquals(34, b.length);
        assertEquals('r', b[0]);
        assertEquals(u, ReplicationMessage.parseStreaming(b));
    }

    @Test
    void baseBackupMessages() {
        byte[] n = {'n', 'b', 'a', 's', 'e', '.', 't', 'a', 'r', 0, 0};
        assertEquals(new ReplicationMessage.NewArchive("base.tar", null), ReplicationMessage.parseBackup(n));
        byte[] d = {'d', 9, 8};
        ReplicationMessage.ArchiveData a = (ReplicationMessage.ArchiveData) ReplicationMessage.parseBackup(d);
        assertEquals(1, a.offset());
        assertEquals(2, a.length());
        assertInstanceOf(ReplicationMessage.ManifestStart.class, ReplicationMessage.parseBackup(new byte[] {'m'}));
        assertEquals(new ReplicationMessage.Progress(5),
            ReplicationMessage.parseBackup(ByteBuffer.allocate(9).put((byte) 'p').putLong(5).array()));
    }

    @Test
    void garbageIsAClearError() {
        byte[][] bad = {{}, {'w', 1, 2}, {'k', 0}, {'r'}, {'x', 1, 2, 3}};
        for (byte[] b : bad) {
            assertThrows(IllegalArgumentException.class, () -> ReplicationMessage.parseStreaming(b));
        }
        byte[][] badBackup = {{}, {'n', 'a'}, {'p', 1}, {'z'}};
        for (byte[] b : badBackup) {
            assertThrows(IllegalArgumentException.class, () -> ReplicationMessage.parseBackup(b));
        }
        Random rnd = new Random(2);
        for (int i = 0; i < 5000; i++) {
            byte[] b = new byte[rnd.nextInt(40)];
            rnd.nextBytes(b);
            try {
                ReplicationMessage.parseStreaming(b);
            } catch (IllegalArgumentException expected) {
                // the only failure allowed
            }
            try {
                ReplicationMessage.parseBackup(b);
            } catch (IllegalArgumentException expected) {
                // the only failure allowed
            }
        }
    }
}
