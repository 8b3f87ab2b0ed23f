package org.pageserver.storage;

import org.pageserver.redo.PageChange;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

class TenantStoreTest {
    static final RelTag REL = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
    static final RelTag OTHER = new RelTag(1663, 5, 16385, ForkNumber.MAIN);

    @TempDir
    Path dir;

    static byte[] page(int fill) {
        byte[] p = new byte[8192];
        java.util.Arrays.fill(p, (byte) fill);
        return p;
    }

    static Lsn lsn(long v) {
        return new Lsn(v);
    }

    @Test
    void historyIsNewestImageAtOrBeforeLsnPlusLaterRecords() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putImage(REL, 0, lsn(100), page(1));
                b.putRecord(REL, 0, lsn(100), lsn(200), new PageChange.RegisteredBlock(0), false, new byte[] {2});
                b.putRecord(REL, 0, lsn(200), lsn(300), new PageChange.RegisteredBlock(0), false, new byte[] {3});
                b.putImage(REL, 0, lsn(300), page(3));
                b.putRecord(REL, 0, lsn(300), lsn(400), new PageChange.RegisteredBlock(1), false, new byte[] {4});
                // neighbours that must never leak into block 0's history
                b.putRecord(REL, 1, lsn(100), lsn(250), new PageChange.RegisteredBlock(0), false, new byte[] {9});
                b.putImage(OTHER, 0, lsn(50), page(7));
                b.commit();
            }
            assertTrue(s.pageHistory(REL, 0, lsn(99)).isEmpty(), "nothing before the first image");

            PageHistory h = s.pageHistory(REL, 0, lsn(250));
            assertArrayEquals(page(1), h.baseImage());
            assertEquals(lsn(100), h.baseLsn());
            assertEquals(List.of(lsn(200)), h.records().stream().map(PageHistory.StoredRecord::endLsn).toList());

            // the image at 300 already contains the record ending at 300
            h = s.pageHistory(REL, 0, lsn(300));
            assertArrayEquals(page(3), h.baseImage());
            assertTrue(h.records().isEmpty());

            h = s.pageHistory(REL, 0, Lsn.MAX);
            assertEquals(lsn(300), h.baseLsn());
            assertEquals(1, h.records().size());
            PageHistory.StoredRecord r = h.records().get(0);
            assertEquals(lsn(300), r.startLsn());
            assertEquals(lsn(400), r.endLsn());
            assertEquals(new PageChange.RegisteredBlock(1), r.change());
            assertArrayEquals(new byte[] {4}, r.raw());
        }
    }

    @Test
    void aCleanCloseLeavesNoRocksDbLogToReplay() throws Exception {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putImage(REL, 0, lsn(100), page(1));
                b.commit();
            }
        }
        long logBytes;
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(dir)) {
            logBytes = files.filter(f -> f.getFileName().toString().endsWith(".log")).mapToLong(f -> f.toFile().length())
                .sum();
        }
        assertEquals(0, logBytes, "what an open would replay");
        try (TenantStore s = TenantStore.open(dir, true)) {
            assertArrayEquals(page(1), s.pageHistory(REL, 0, lsn(100)).baseImage());
        }
    }

    @Test
    void chainStopsAtARecordThatInitializesThePage() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putRecord(REL, 3, lsn(10), lsn(20), new PageChange.RegisteredBlock(0), false, new byte[] {1});
                b.putRecord(REL, 3, lsn(20), lsn(30), new PageChange.RegisteredBlock(0), true, new byte[] {2});
                b.putRecord(REL, 3, lsn(30), lsn(40), new PageChange.RegisteredBlock(0), false, new byte[] {3});
                b.commit();
            }
            PageHistory h = s.pageHistory(REL, 3, lsn(40));
            assertNull(h.baseImage());
            assertEquals(List.of(lsn(30), lsn(40)), h.records().stream().map(PageHistory.StoredRecord::endLsn).toList());
            assertTrue(h.records().get(0).startsChain());
        }
    }

    @Test
    void relationSizesAreVersioned() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putRelSize(REL, lsn(100), 1);
                b.putRelSize(REL, lsn(200), 5);
                b.dropRel(REL, lsn(300));
                b.putRelSize(OTHER, lsn(150), 2);
                b.commit();
            }
            assertEquals(OptionalInt.empty(), s.relSize(REL, lsn(99)));
            assertEquals(OptionalInt.of(1), s.relSize(REL, lsn(199)));
            assertEquals(OptionalInt.of(5), s.relSize(REL, lsn(200)));
            assertEquals(OptionalInt.empty(), s.relSize(REL, lsn(300)));
            assertEquals(OptionalInt.of(2), s.relSize(OTHER, Lsn.MAX));
            assertEquals(java.util.Map.of(REL, 5, OTHER, 2), s.relations(lsn(250)));
            assertEquals(java.util.Map.of(OTHER, 2), s.relations(lsn(300)));
        }
    }

    @Test
    void relationsAsOfAnLsnSkipTheVersionsAroundIt() {
        RelTag later = new RelTag(1663, 5, 16386, ForkNumber.MAIN);
        RelTag vm = REL.withFork(ForkNumber.VISIBILITYMAP);
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                for (int i = 1; i <= 1000; i++) {
                    b.putRelSize(REL, lsn(i * 10L), i);
                }
                b.putRelSize(vm, lsn(5000), 1);
                b.putRelSize(later, lsn(20_000), 7);
                b.putRelSize(OTHER, lsn(-1L), 9); // at the largest LSN there is
                b.commit();
            }
            assertEquals(java.util.Map.of(REL, 500, vm, 1), s.relations(lsn(5005)));
            assertEquals(java.util.Map.of(REL, 1000, vm, 1, later, 7), s.relations(lsn(30_000)));
            assertEquals(java.util.Map.of(REL, 1000, vm, 1, later, 7, OTHER, 9), s.relations(lsn(-1L)));
            assertEquals(java.util.Map.of(), s.relations(lsn(5)));
        }
    }

    @Test
    void filesAreVersionedAndEmptyDiffersFromRemoved() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putFile("pg_xact/0000", lsn(10), new byte[] {1, 2});
                b.putFile("pg_xact/0000", lsn(20), new byte[] {3});
                b.putFile("pg_xact/00001", lsn(10), new byte[0]);
                b.putFile("PG_VERSION", lsn(10), "15\n".getBytes());
                b.putFile("PG_VERSION", lsn(30), null);
                b.commit();
            }
            assertArrayEquals(new byte[] {1, 2}, s.file("pg_xact/0000", lsn(15)).orElseThrow());
            assertArrayEquals(new byte[] {3}, s.file("pg_xact/0000", lsn(25)).orElseThrow());
            assertArrayEquals(new byte[0], s.file("pg_xact/00001", lsn(25)).orElseThrow());
            assertFalse(s.file("pg_xact/000", lsn(25)).isPresent(), "a prefix of a path is not that path");
            assertFalse(s.file("PG_VERSION", lsn(30)).isPresent());
            assertEquals(List.of("PG_VERSION", "pg_xact/0000", "pg_xact/00001"), s.files(lsn(20)));
            assertEquals(List.of("pg_xact/0000", "pg_xact/00001"), s.files(lsn(30)));
        }
    }

    @Test
    void tablespaceLinksAreVersionedApartFromFiles() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putSymlink("pg_tblspc/16390", lsn(10), "/srv/ts1");
                b.putFile("pg_tblspc/16390/PG_15_202209061/", lsn(10), new byte[0]);
                b.putSymlink("pg_tblspc/16391", lsn(20), "/srv/ts2");
                b.putFile("pg_tblspc/16390", lsn(30), null);
                b.commit();
            }
            assertEquals(java.util.Map.of(16390, "/srv/ts1"), s.tablespaces(lsn(15)));
            assertEquals(java.util.Map.of(16390, "/srv/ts1", 16391, "/srv/ts2"), s.tablespaces(lsn(20)));
            assertEquals(java.util.Map.of(16391, "/srv/ts2"), s.tablespaces(lsn(30)));
            assertEquals("/srv/ts2", s.symlink("pg_tblspc/16391", lsn(40)).orElseThrow());
            assertFalse(s.file("pg_tblspc/16391", lsn(40)).isPresent(), "a link is not a file");
            assertFalse(s.symlink("pg_tblspc/16390/PG_15_202209061/", lsn(20)).isPresent(), "a directory is not a link");
            assertEquals(List.of("pg_tblspc/16390/PG_15_202209061/"), s.files(lsn(20)));
        }
    }

    @Test
    void onlyPgTblspcOidPathsNameATablespace() {
        assertEquals(16390, TenantStore.tablespaceOid("pg_tblspc/16390"));
        assertEquals(-1, TenantStore.tablespaceOid("pg_tblspc/4294967295"));
        for (String p : List.of("pg_tblspc/", "pg_tblspc/0", "pg_tblspc/4294967296", "pg_tblspc/12a", "pg_tblspc/1/x",
            "base/1", "pg_tblspc/-1", "pg_tblspc/99999999999")) {
            assertNull(TenantStore.tablespaceOid(p), p);
        }
    }

    @Test
    void rawWalIsReadBackTrimmedToTheRange() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putWal(lsn(1000), new byte[] {0, 1, 2, 3});
                b.putWal(lsn(1004), new byte[] {4, 5, 6});
                b.putWal(lsn(1007), new byte[] {7, 8});
                b.commit();
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            s.readWal(lsn(1002), lsn(1008), (at, buf, off, len) -> out.write(buf, off, len));
            assertArrayEquals(new byte[] {2, 3, 4, 5, 6, 7}, out.toByteArray());
            assertEquals(lsn(1000), s.walStart());
        }
    }

    @Test
    void rawWalBeforeWhatIsKeptIsAnErrorNotAGap() {
        try (TenantStore s = TenantStore.open(dir, true)) {
            try (StoreBatch b = s.newBatch()) {
                b.putWal(lsn(1000), new byte[] {0, 1, 2, 3});
                b.commit();
            }
            StorageException e = assertThrows(StorageException.class, () -> s.readWal(lsn(900), lsn(1004),
                (at, buf, off, len) -> { }));
            assertEquals("the raw WAL from 0/384 is no longer kept (it starts at 0/3E8)", e.getMessage());
        }
    }

    @Test
    void survivesReopenAndMetaMarksTheTenant() {
        TenantMeta meta = new TenantMeta(new SystemId(-5L), "host=h port=1 password=secret", 1, 16 << 20,
            lsn(0x1000028), lsn(0x1000100), "pageserver_x", false);
        try (TenantStore s = TenantStore.open(dir, true)) {
            assertTrue(s.meta().isEmpty());
            s.putMeta(meta);
            try (StoreBatch b = s.newBatch()) {
                b.putImage(REL, 0, lsn(5), page(5));
                b.setDurableLsn(lsn(0x2000000), lsn(0x1FFFFF8));
                b.commit();
            }
        }
        try (TenantStore s = TenantStore.open(dir, true)) {
            assertEquals(meta, s.meta().orElseThrow());
            assertEquals(lsn(0x2000000), s.durableLsn());
            assertArrayEquals(page(5), s.pageHistory(REL, 0, lsn(5)).baseImage());
        }
    }

    @Test
    void aClosedStoreRefusesWorkInsteadOfCrashing() {
        TenantStore s = TenantStore.open(dir, true);
        s.close();
        s.close();
        StorageException e = assertThrows(StorageException.class, () -> s.pageHistory(REL, 0, lsn(1)));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void closeWaitsForABatchBeingFilledOnAnotherThread() throws Exception {
        TenantStore s = TenantStore.open(dir, true);
        StoreBatch b = s.newBatch();
        b.putImage(REL, 0, lsn(1), page(1));
        Thread closer = new Thread(s::close);
        closer.start();
        closer.join(300);
        assertTrue(closer.isAlive(), "close waits while a batch is open");
        b.putImage(REL, 1, lsn(1), page(2)); // the native handles are still there
        b.commit();
        b.close();
        closer.join(5000);
        assertFalse(closer.isAlive());
        assertThrows(StorageException.class, s::newBatch);
    }

    @Test
    void openingSomethingThatIsNotAStoreFailsClearly() throws Exception {
        Path file = dir.resolve("not-a-dir");
        java.nio.file.Files.writeString(file, "garbage");
        StorageException e = assertThrows(StorageException.class, () -> TenantStore.open(file, true));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }
}
