package org.pageserver.protocol.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.control.ControlFile;

/** The segment pg_resetwal would write, read back by the project's decoder and by the real pg_waldump. */
class ShutdownCheckpointWalTest {
    static final int SEG_SIZE = 1 << 20;
    static final long SYSID = 7711515405097324774L;

    @TempDir
    Path tmp;

    static ControlFile.CheckPoint checkPoint(Lsn at) {
        return new ControlFile.CheckPoint(at, 1, 1, true, (5L << 32) | 1234, 24576, 7, 42, 716, 1, 3, 1, 1_800_000_000L,
            0, 0, 0);
    }

    @Test
    void decoderReadsOneShutdownCheckpointAtTheSegmentStart() {
        ShutdownCheckpointWal w = new ShutdownCheckpointWal(SYSID, 1, SEG_SIZE, 9);
        assertEquals(Lsn.parse("0/900028"), w.recordLsn());
        assertEquals("000000010000000000000009", w.fileName());
        byte[] page = w.firstPage(checkPoint(w.recordLsn()));
        List<WalRecord> records = new ArrayList<>();
        WalDecoder d = new WalDecoder(w.segmentStart(), SEG_SIZE);
        // up to the record's MAXALIGNed end; after it, zeros: the end of the WAL, as the
        // decoder (like PostgreSQL's reader) says on the next bytes
        d.feed(page, 0, 160, records::add);
        assertEquals(1, records.size());
        assertEquals(Lsn.parse("0/9000A0"), records.get(0).endLsn());
        assertTrue(assertThrows(WalDecodeException.class, () -> d.feed(page, 160, 100, x -> { })).getMessage()
            .contains("invalid record length"));
        WalRecord r = records.get(0);
        assertEquals(w.recordLsn(), r.startLsn());
        assertEquals(RmgrId.RM_XLOG_ID, r.rmid());
        assertEquals(ShutdownCheckpointWal.XLOG_CHECKPOINT_SHUTDOWN, r.rmgrInfo());
        assertEquals(0L, r.prevLsn());
        assertEquals(checkPoint(w.recordLsn()), ControlFile.CheckPoint.parse(r.mainData()));
        XLogPageHeader h = XLogPageHeader.parse(page, 0, page.length, w.segmentStart(), SEG_SIZE);
        assertEquals(SYSID, h.systemId());
        assertTrue(h.isLong());
        // the CRC is checked by decode: a flipped bit in the CheckPoint is refused
        byte[] bad = page.clone();
        bad[100] ^= 1;
        assertThrows(WalDecodeException.class, () -> new WalDecoder(w.segmentStart(), SEG_SIZE)
            .feed(bad, 0, bad.length, x -> { }));
    }

    /** What the real pg_waldump prints of a segment file named {@code fileName} holding {@code firstPage} then zeros. */
    private String pgWaldump(String fileName, byte[] firstPage) throws IOException, InterruptedException {
        byte[] segment = new byte[SEG_SIZE];
        System.arraycopy(firstPage, 0, segment, 0, firstPage.length);
        Path file = tmp.resolve(fileName);
        Files.write(file, segment);
        Process p = new ProcessBuilder("/usr/lib/postgresql/15/bin/pg_waldump", file.toString())
            .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return out;
    }

    @Test
    void pgWaldumpPrintsTheCheckpoint() throws IOException, InterruptedException {
        ShutdownCheckpointWal w = new ShutdownCheckpointWal(SYSID, 1, SEG_SIZE, 0x1234);
        String out = pgWaldump(w.fileName(), w.firstPage(checkPoint(w.recordLsn())));
        assertTrue(out.contains("rmgr: XLOG        len (rec/tot):    114/   114, tx:          0, lsn: 1/23400028, prev 0/00000000, "
            + "desc: CHECKPOINT_SHUTDOWN redo 1/23400028; tli 1; prev tli 1; fpw true; xid 5:1234; oid 24576; multi 7; "
            + "offset 42; oldest xid 716 in DB 1; oldest multi 3 in DB 1; oldest/newest commit timestamp xid: 0/0; "
            + "oldest running xid 0; shutdown"), out);
        // and nothing after it: the rest is zeros
        assertTrue(out.contains("invalid record length at 1/234000A0"), out);
    }

    /** The first checkpoint of a timeline forked from timeline 1, as a base backup's is. */
    @Test
    void onANewTimelineTheFileNamePageHeaderAndCheckpointSayIt() throws IOException, InterruptedException {
        ShutdownCheckpointWal w = new ShutdownCheckpointWal(SYSID, 2, SEG_SIZE, 0x1234);
        assertEquals("000000020000000100000234", w.fileName());
        ControlFile.CheckPoint forked = new ControlFile.CheckPoint(w.recordLsn(), 2, 1, true, 3, 1, 1, 0, 3, 1, 1, 1,
            0, 0, 0, 0);
        byte[] page = w.firstPage(forked);
        assertEquals(2, XLogPageHeader.parse(page, 0, page.length, w.segmentStart(), SEG_SIZE).timeline());
        String out = pgWaldump(w.fileName(), page);
        assertTrue(out.contains("desc: CHECKPOINT_SHUTDOWN redo 1/23400028; tli 2; prev tli 1;"), out);
    }

    @Test
    void aRedoOtherThanTheRecordItselfIsRefused() {
        ShutdownCheckpointWal w = new ShutdownCheckpointWal(SYSID, 1, SEG_SIZE, 9);
        assertThrows(IllegalArgumentException.class, () -> w.firstPage(checkPoint(Lsn.parse("0/900000"))));
        assertThrows(IllegalArgumentException.class, () -> new ShutdownCheckpointWal(SYSID, 1, 3000, 9));
        ControlFile.CheckPoint otherTli = new ControlFile.CheckPoint(w.recordLsn(), 2, 2, true, 3, 1, 1, 0, 3, 1, 1, 1,
            0, 0, 0, 0);
        assertThrows(IllegalArgumentException.class, () -> w.firstPage(otherTli));
        assertArrayEquals(w.firstPage(checkPoint(w.recordLsn())), w.firstPage(checkPoint(w.recordLsn())));
    }
}
