package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/**
 * dbase_redo as the ingest applies it to the store, versioned by LSN: CREATE DATABASE
 * FILE_COPY gives the new database the source's relations, pages and files from the record's
 * end on (nothing before it), WAL_LOG its directory and PG_VERSION, DROP takes every relation
 * and file away from its end on (they stay readable before it). Records built in the layouts
 * of dbcommands_xlog.h (PG15), little-endian.
 */
class BatchWriterDatabaseTest {
    static final int SRC_DB = 1;
    static final int NEW_DB = 16400;
    static final Lsn BASE = Lsn.parse("0/1000100");

    @TempDir
    Path dir;
    TenantStore store;
    BatchWriter writer;
    final RelTag srcMain = new RelTag(1663, SRC_DB, 1259, ForkNumber.MAIN);
    final RelTag srcVm = srcMain.withFork(ForkNumber.VISIBILITYMAP);
    final RelTag otherDb = new RelTag(1663, 5, 1259, ForkNumber.MAIN);

    @BeforeEach
    void setUp() {
        store = TenantStore.open(dir, false);
        writer = new BatchWriter(store, BASE, false);
        try (StoreBatch b = store.newBatch()) {
            b.putRelSize(srcMain, BASE, 3);
            b.putRelSize(srcVm, BASE, 1);
            b.putRelSize(otherDb, BASE, 1);
            for (int blk = 0; blk < 2; blk++) { // block 2 never written: zeros
                b.putImage(srcMain, blk, BASE, page(blk + 1));
            }
            b.putImage(srcVm, 0, BASE, page(9));
            b.putImage(otherDb, 0, BASE, page(7));
            b.putFile("base/1/", BASE, new byte[0]);
            b.putFile("base/1/PG_VERSION", BASE, "15\n".getBytes(StandardCharsets.US_ASCII));
            b.putFile("base/1/pg_filenode.map", BASE, new byte[512]);
            b.commit();
        }
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    /** A page with a header (pd_lower 24, pd_upper 8192, pd_special 8192, version 4) and a mark. */
    static byte[] page(int mark) {
        byte[] p = new byte[8192];
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, 0x1000000L);
        b.putShort(12, (short) 24);
        b.putShort(14, (short) 8192);
        b.putShort(16, (short) 8192);
        b.putShort(18, (short) (8192 | 4));
        p[100] = (byte) mark;
        return p;
    }

    static WalRecord dbase(Lsn start, int info, byte[] main) {
        return new WalRecord(start, start.plus(0x40), 0, 0, RmgrId.RM_DBASE_ID, info, 0, 0, List.of(), main, new byte[0]);
    }

    void write(WalRecord... records) {
        Lsn end = records[records.length - 1].endLsn();
        writer.write(new WalBatch(List.of(records), end, new byte[0], end, end));
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void fileCopyGivesTheNewDatabaseTheSourceAsOfTheRecord() {
        WalRecord copy = dbase(Lsn.parse("0/1000200"), 0x00, le(16).putInt(NEW_DB).putInt(1663).putInt(SRC_DB)
            .putInt(1663).array());
        write(copy);
        RelTag dst = new RelTag(1663, NEW_DB, 1259, ForkNumber.MAIN);
        Lsn before = copy.endLsn().plus(-1);
        assertEquals(OptionalInt.empty(), store.relSize(dst, before), "no relation before the record's end");
        assertEquals(OptionalInt.of(3), store.relSize(dst, copy.endLsn()));
        assertEquals(OptionalInt.of(1), store.relSize(dst.withFork(ForkNumber.VISIBILITYMAP), copy.endLsn()));
        assertEquals(OptionalInt.empty(), store.relSize(new RelTag(1663, NEW_DB, 1259, ForkNumber.FSM), copy.endLsn()));
        for (int blk = 0; blk < 2; blk++) {
            PageHistory h = store.pageHistory(dst, blk, copy.endLsn());
            assertEquals(copy.endLsn(), h.baseLsn(), "an image at the record's end");
            assertArrayEquals(PageRebuild.rebuild(store.pageHistory(srcMain, blk, copy.endLsn()), new BufferTag(srcMain, blk),
                false), h.baseImage());
            assertTrue(store.pageHistory(dst, blk, before).isEmpty(), "nothing of the copy before the record");
        }
        assertTrue(store.pageHistory(dst, 2, copy.endLsn()).isEmpty(), "a block the source never wrote reads as zeros");
        assertEquals(9, store.pageHistory(dst.withFork(ForkNumber.VISIBILITYMAP), 0, copy.endLsn()).baseImage()[100]);
        assertEquals("15\n", new String(store.file("base/16400/PG_VERSION", copy.endLsn()).orElseThrow(),
            StandardCharsets.US_ASCII));
        assertEquals(512, store.file("base/16400/pg_filenode.map", copy.endLsn()).orElseThrow().length);
        assertTrue(store.file("base/16400/PG_VERSION", before).isEmpty());
        // the source is untouched; only the source database is copied
        assertEquals(OptionalInt.of(3), store.relSize(srcMain, copy.endLsn()));
        assertEquals(2, store.relations(copy.endLsn()).keySet().stream().filter(r -> r.dbNode() == NEW_DB).count());
    }

    @Test
    void walLogRecordsTheDirectoryAndPgVersionOnly() {
        WalRecord create = dbase(Lsn.parse("0/1000200"), 0x10, le(8).putInt(NEW_DB).putInt(1663).array());
        write(create);
        assertEquals("15\n", new String(store.file("base/16400/PG_VERSION", create.endLsn()).orElseThrow(),
            StandardCharsets.US_ASCII));
        assertTrue(store.files(create.endLsn()).contains("base/16400/"));
        assertTrue(store.file("base/16400/PG_VERSION", create.endLsn().plus(-1)).isEmpty());
        assertTrue(store.relations(create.endLsn()).keySet().stream().noneMatch(r -> r.dbNode() == NEW_DB),
            "its relations come with their own records");
    }

    @Test
    void dropTakesEveryRelationAndFileAwayFromItsLsnOn() {
        WalRecord copy = dbase(Lsn.parse("0/1000200"), 0x00, le(16).putInt(NEW_DB).putInt(1663).putInt(SRC_DB)
            .putInt(1663).array());
        WalRecord drop = dbase(Lsn.parse("0/1000300"), 0x20, le(12).putInt(NEW_DB).putInt(1).putInt(1663).array());
        write(copy, drop); // one batch: the drop reads what the copy wrote just before it
        RelTag dst = new RelTag(1663, NEW_DB, 1259, ForkNumber.MAIN);
        Lsn between = drop.endLsn().plus(-1);
        assertEquals(OptionalInt.of(3), store.relSize(dst, between));
        assertTrue(store.file("base/16400/PG_VERSION", between).isPresent());
        assertEquals(OptionalInt.empty(), store.relSize(dst, drop.endLsn()));
        assertEquals(OptionalInt.empty(), store.relSize(dst.withFork(ForkNumber.VISIBILITYMAP), drop.endLsn()));
        assertTrue(store.files(drop.endLsn()).stream().noneMatch(f -> f.startsWith("base/16400/")),
            store.files(drop.endLsn()).toString());
        assertEquals(OptionalInt.of(3), store.relSize(srcMain, drop.endLsn()), "the template stays");
        assertEquals(OptionalInt.of(1), store.relSize(otherDb, drop.endLsn()));
    }
}
