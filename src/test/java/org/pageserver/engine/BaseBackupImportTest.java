package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.fuzz.FuzzChecks;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.TenantStore;

/**
 * A base backup's SLRU segments: each page a base image of its SLRU's pseudo-relation at the
 * backup's start, the pseudo-relation as large as its highest page + 1, and the segment file
 * kept as a file version as well.
 */
class BaseBackupImportTest {
    @TempDir
    Path dir;

    static byte[] pages(int n, int seed) {
        byte[] b = new byte[n * 8192];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (seed + i / 8192 * 7 + i % 251);
        }
        return b;
    }

    /**
     * Found writing the tar fuzz target: a tar header declaring a 256 MB file made the importer allocate a
     * 256 MB buffer before any of the file arrived; the buffer now grows with the data.
     */
    @Test
    void aFileDeclaring256MbAllocatesOnlyWhatArrives() throws IOException {
        try (TenantStore store = TenantStore.open(dir, false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SystemId.parse("7711515405097324774"));
            imp.start(Lsn.parse("0/2000028"));
            imp.fileStart("warm/up", 1); // loads what a file's start needs, outside the measurement
            long before = FuzzChecks.allocatedBytes();
            imp.fileStart("base/5/PG_VERSION", BaseBackupImport.MAX_FILE_SIZE);
            imp.fileData(new byte[] {'1', '5', '\n'}, 0, 3);
            long allocated = FuzzChecks.allocatedBytes() - before;
            imp.abort();
            assertTrue(allocated < 1 << 20, "allocated " + allocated + " bytes for a file of 3 bytes so far");
        }
    }

    @Test
    void slruSegmentsBecomePagesOfTheirPseudoRelationsAndStayFiles() throws IOException {
        byte[] control;
        try (InputStream in = BaseBackupImportTest.class.getResourceAsStream("/control/pg_control")) {
            control = in.readAllBytes();
        }
        Lsn start = Lsn.parse("0/2000028");
        byte[] xact0 = pages(32, 1);
        byte[] xact1 = pages(2, 2);
        byte[] members = pages(6, 3);
        try (TenantStore store = TenantStore.open(dir, false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SystemId.parse("7711515405097324774"));
            imp.start(start);
            imp.directory("pg_xact/");
            for (Object[] f : new Object[][] {{"pg_xact/0000", xact0}, {"pg_xact/0001", xact1},
                {"pg_multixact/members/14078", members}, {"global/pg_control", control}}) {
                byte[] bytes = (byte[]) f[1];
                imp.fileStart((String) f[0], bytes.length);
                // in uneven pieces, as tar data arrives
                for (int off = 0; off < bytes.length; off += 5000) {
                    imp.fileData(bytes, off, Math.min(5000, bytes.length - off));
                }
                imp.fileEnd();
            }
            imp.finish();

            assertEquals(OptionalInt.of(34), store.relSize(SlruKind.XACT.rel(), start));
            assertEquals(OptionalInt.of(0x14078 * 32 + 6), store.relSize(SlruKind.MULTIXACT_MEMBERS.rel(), start));
            assertTrue(store.relSize(SlruKind.COMMIT_TS.rel(), start).isEmpty(), "no pg_commit_ts in this backup");
            PageHistory h = store.pageHistory(SlruKind.XACT.rel(), 33, Lsn.MAX);
            assertEquals(start, h.baseLsn());
            assertArrayEquals(java.util.Arrays.copyOfRange(xact1, 8192, 16384), h.baseImage());
            PageHistory m = store.pageHistory(SlruKind.MULTIXACT_MEMBERS.rel(), 0x14078 * 32 + 5, Lsn.MAX);
            assertArrayEquals(java.util.Arrays.copyOfRange(members, 5 * 8192, 6 * 8192), m.baseImage());
            assertArrayEquals(xact0, store.file("pg_xact/0000", start).orElseThrow());
            assertArrayEquals(members, store.file("pg_multixact/members/14078", start).orElseThrow());
        }
    }
}
