package org.pageserver.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.redo.PageChange;

/**
 * The store's own images and the retention horizon, on a real RocksDB. Records here are toy
 * records (offset u16, value u8) that {@link #REBUILD} folds into the page, so that any
 * version of any block can be rebuilt and compared before and after a pass.
 */
class CompactionTest {
    static final RelTag REL = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
    static final SystemId SYSTEM_ID = new SystemId(7311000000000000001L);
    static final Duration WINDOW = Duration.ofMinutes(5);

    /** Rebuilds a block from toy records: page[offset] = page[offset] * 31 + value, in LSN order. */
    static final PageRebuilder REBUILD = (h, tag) -> {
        byte[] page = h.baseImage() != null ? h.baseImage().clone() : new byte[8192];
        for (PageHistory.StoredRecord r : h.records()) {
            int off = ((r.raw()[0] & 0xff) << 8) | (r.raw()[1] & 0xff);
            page[off] = (byte) (page[off] * 31 + r.raw()[2]);
        }
        return page;
    };

    @TempDir
    Path dir;

    /** Nanoseconds of the compaction's clock: the tests move it a window at a time. */
    final AtomicLong clock = new AtomicLong();

    static Lsn lsn(long v) {
        return new Lsn(v);
    }

    static TenantStore open(Path dir) {
        TenantStore s = TenantStore.open(dir, false);
        if (s.meta().isEmpty()) {
            s.putMeta(new TenantMeta(SYSTEM_ID, "host=x", 1, 16 << 20, lsn(0x1000), lsn(0x1000), "slot", false));
        }
        return s;
    }

    Compaction compaction(TenantStore s, int imageAfter) {
        return new Compaction(s, REBUILD, new Compaction.Config(imageAfter, WINDOW), clock::get);
    }

    /** One ingest batch: a toy record on each block given, ending at {@code end}, and the durable LSN moved there. */
    static void ingest(TenantStore s, long end, Random rnd, int... blocks) {
        try (StoreBatch b = s.newBatch()) {
            for (int blk : blocks) {
                byte[] raw = {(byte) rnd.nextInt(32), (byte) rnd.nextInt(256), (byte) rnd.nextInt(256)};
                b.putRecord(REL, blk, lsn(end - 8), lsn(end), new PageChange.RegisteredBlock(0), false, raw);
            }
            b.putRelSize(REL, lsn(end), 8);
            b.putFile("pg_xact_state", lsn(end), new byte[] {(byte) end});
            b.setDurableLsn(lsn(end), lsn(end));
            b.commit();
        }
    }

    /** Every block as of every LSN in [from, to] on a 16-byte grid (every record ends on it). */
    static Map<String, byte[]> pages(TenantStore s, long from, long to) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (long l = from; l <= to; l += 16) {
            for (int blk = 0; blk < 8; blk++) {
                PageHistory h = s.pageHistory(REL, blk, lsn(l));
                out.put(blk + "@" + l, h.isEmpty() ? null : REBUILD.rebuild(h, new BufferTag(REL, blk)));
            }
        }
        return out;
    }

    static void assertSamePages(Map<String, byte[]> expected, Map<String, byte[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((k, v) -> assertArrayEquals(v, actual.get(k), k));
    }

    static int versionsOf(TenantStore s, int blk) {
        int n = 0;
        try (var it = s.iterator(TenantStore.Family.PAGE)) {
            byte[] prefix = Keys.blockPrefix(REL, blk);
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                n++;
            }
        }
        return n;
    }

    @Test
    void aBlockWithALongChainGetsAnImageAtTheDurableLsn() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(1);
            for (int i = 1; i <= 20; i++) {
                ingest(s, 0x2000 + 16L * i, rnd, 0);
            }
            ingest(s, 0x2000 + 16L * 21, rnd, 1); // one record: too short a chain
            Map<String, byte[]> before = pages(s, 0x2000, 0x2000 + 16 * 21);

            Compaction.Pass pass = compaction(s, 16).runOnce();

            assertEquals(1, pass.images());
            PageHistory h = s.pageHistory(REL, 0, lsn(0x2000 + 16 * 21));
            assertEquals(lsn(0x2000 + 16 * 21), h.baseLsn(), "the image is at the durable LSN");
            assertTrue(h.records().isEmpty());
            assertNull(s.pageHistory(REL, 1, lsn(0x2000 + 16 * 21)).baseImage());
            assertSamePages(before, pages(s, 0x2000, 0x2000 + 16 * 21));
        }
    }

    @Test
    void theImageAtAnLsnIsMetBeforeTheRecordEndingThere() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(2);
            for (int i = 1; i <= 16; i++) {
                ingest(s, 0x2000 + 16L * i, rnd, 3);
            }
            compaction(s, 16).runOnce();
            ingest(s, 0x2000 + 16L * 17, rnd, 3);
            PageHistory h = s.pageHistory(REL, 3, lsn(0x2000 + 16 * 17));
            assertEquals(lsn(0x2000 + 16 * 16), h.baseLsn());
            assertEquals(1, h.records().size(), "only the record after the image");
        }
    }

    @Test
    void collapsingAtTheHorizonKeepsEveryPageFromItOnAndRemovesOlderVersions() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(3);
            long end = 0x2000;
            for (int i = 0; i < 200; i++) {
                end += 16;
                ingest(s, end, rnd, rnd.nextInt(8), rnd.nextInt(8));
            }
            Compaction c = compaction(s, 1000);
            c.runOnce(); // the durable LSN now becomes the horizon a window later
            long horizon = end;
            for (int i = 0; i < 100; i++) {
                end += 16;
                ingest(s, end, rnd, rnd.nextInt(8));
            }
            Map<String, byte[]> before = pages(s, horizon, end);
            int versionsBefore = versionsOf(s, 2);

            clock.addAndGet(WINDOW.toNanos());
            Compaction.Pass pass = c.runOnce();

            assertEquals(lsn(horizon), pass.horizon());
            assertEquals(lsn(horizon), s.horizon());
            assertSamePages(before, pages(s, horizon, end));
            assertTrue(versionsOf(s, 2) < versionsBefore, versionsOf(s, 2) + " versions of block 2, " + versionsBefore + " before");
            for (int blk = 0; blk < 8; blk++) {
                PageHistory h = s.pageHistory(REL, blk, lsn(horizon));
                assertEquals(lsn(horizon), h.baseLsn(), "block " + blk + " has its image at the horizon");
            }
            assertEquals(OptionalInt.of(8), s.relSize(REL, lsn(horizon)));
            assertArrayEquals(new byte[] {(byte) horizon}, s.file("pg_xact_state", lsn(horizon)).orElseThrow());
        }
    }

    @Test
    void aReadBelowTheHorizonFailsWithTheExactMessage() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(4);
            ingest(s, 0x2010, rnd, 0);
            Compaction c = compaction(s, 16);
            c.runOnce();
            ingest(s, 0x2020, rnd, 0);
            clock.addAndGet(WINDOW.toNanos());
            c.runOnce();

            String expected = "LSN 0/2000 is below the retention horizon 0/2010 of tenant " + SYSTEM_ID;
            assertEquals(expected, assertThrows(BelowHorizonException.class,
                () -> s.pageHistory(REL, 0, lsn(0x2000))).getMessage());
            assertEquals(expected, assertThrows(BelowHorizonException.class,
                () -> s.relSize(REL, lsn(0x2000))).getMessage());
            assertEquals(expected, assertThrows(BelowHorizonException.class,
                () -> s.relations(lsn(0x2000))).getMessage());
            assertEquals(expected, assertThrows(BelowHorizonException.class, () -> s.pin(lsn(0x2000))).getMessage());
        }
    }

    @Test
    void theHorizonSurvivesAReopen() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(5);
            ingest(s, 0x2010, rnd, 0);
            Compaction c = compaction(s, 16);
            c.runOnce();
            ingest(s, 0x2020, rnd, 0);
            clock.addAndGet(WINDOW.toNanos());
            c.runOnce();
        }
        try (TenantStore s = TenantStore.open(dir, false)) {
            assertEquals(lsn(0x2010), s.horizon());
            assertThrows(BelowHorizonException.class, () -> s.pageHistory(REL, 0, lsn(0x2000)));
        }
    }

    @Test
    void aPinHoldsTheHorizonBack() {
        try (TenantStore s = open(dir)) {
            Random rnd = new Random(6);
            ingest(s, 0x2010, rnd, 0);
            try (Horizon.Pin pin = s.pin(lsn(0x2008))) {
                Compaction c = compaction(s, 16);
                c.runOnce();
                ingest(s, 0x2020, rnd, 0);
                clock.addAndGet(WINDOW.toNanos());
                assertEquals(lsn(0x2008), c.runOnce().horizon(), "held at the pinned LSN");
            }
        }
    }

    @Test
    void aStoreOfTheOldFormatIsRefused() throws Exception {
        try (TenantStore s = open(dir)) {
            ingest(s, 0x2010, new Random(7), 0);
        }
        // what a store written before format versions looks like: data, no version
        List<org.rocksdb.ColumnFamilyDescriptor> cfs = new ArrayList<>();
        for (byte[] name : org.rocksdb.RocksDB.listColumnFamilies(new org.rocksdb.Options(), dir.toString())) {
            cfs.add(new org.rocksdb.ColumnFamilyDescriptor(name));
        }
        List<org.rocksdb.ColumnFamilyHandle> handles = new ArrayList<>();
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(new org.rocksdb.DBOptions(), dir.toString(), cfs, handles)) {
            db.delete(handles.get(0), "format_version".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            handles.forEach(org.rocksdb.ColumnFamilyHandle::close);
        }
        StorageException e = assertThrows(StorageException.class, () -> TenantStore.open(dir, false));
        assertTrue(e.getMessage().contains("has storage format 1"), e.getMessage());
    }
}
