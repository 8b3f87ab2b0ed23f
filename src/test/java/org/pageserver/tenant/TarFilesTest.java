package org.pageserver.tenant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.TenantStore;

/**
 * Base backup archives as GNU tar writes them (ustar, long names, symbolic links) read into a
 * store through {@link TarFiles} and {@link BaseBackupImport}, in the uneven reads a
 * connection gives; garbage and cut-off archives are clear errors.
 */
class TarFilesTest {
    static final Lsn START = Lsn.parse("0/2000028");
    static final SystemId SYSTEM_ID = SystemId.parse("7711515405097324774");

    @TempDir
    Path tmp;

    /** A data directory's archive: PG_VERSION, a relation of 3 blocks, a long path, a tablespace link, pg_control. */
    byte[] dataDirectoryTar() throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("base/5"));
        Files.createDirectories(src.resolve("global"));
        Files.createDirectories(src.resolve("pg_tblspc"));
        Files.writeString(src.resolve("base/5/PG_VERSION"), "15\n");
        Files.write(src.resolve("base/5/16384"), relation(3));
        String longName = "pg_logical/" + "a".repeat(90) + "/" + "b".repeat(60);
        Files.createDirectories(src.resolve(longName).getParent());
        Files.writeString(src.resolve(longName), "long path");
        Files.createSymbolicLink(src.resolve("pg_tblspc/16390"), Path.of("/srv/ts1"));
        try (InputStream in = TarFilesTest.class.getResourceAsStream("/control/pg_control")) {
            Files.write(src.resolve("global/pg_control"), in.readAllBytes());
        }
        return tar(src, "base", "pg_logical", "pg_tblspc", "global");
    }

    static byte[] relation(int blocks) {
        byte[] b = new byte[blocks * 8192];
        new Random(blocks).nextBytes(b);
        return b;
    }

    byte[] tar(Path dir, String... entries) throws Exception {
        Path out = tmp.resolve("out-" + System.nanoTime() + ".tar");
        List<String> cmd = new java.util.ArrayList<>(List.of("tar", "--format=gnu", "-cf", out.toString(), "-C",
            dir.toString()));
        cmd.addAll(List.of(entries));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String msg = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, msg);
        return Files.readAllBytes(out);
    }

    /** Reads in pieces of 1 to 1500 bytes, as CopyData messages arrive. */
    static InputStream uneven(byte[] b) {
        Random rnd = new Random(5);
        return new ByteArrayInputStream(b) {
            @Override
            public synchronized int read(byte[] buf, int off, int len) {
                return super.read(buf, off, Math.min(len, 1 + rnd.nextInt(1500)));
            }
        };
    }

    @Test
    void aDataDirectoryArchiveAndATablespaceArchiveLandInTheStore() throws Exception {
        Path ts = tmp.resolve("ts");
        Files.createDirectories(ts.resolve("PG_15_202209061/5"));
        Files.write(ts.resolve("PG_15_202209061/5/16400_vm"), relation(1));
        byte[] tablespaceTar = tar(ts, "PG_15_202209061");
        byte[] base = dataDirectoryTar();
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
            imp.start(START);
            TarFiles files = new TarFiles(imp);
            files.readTablespaceArchive("16390.tar", 16390, uneven(tablespaceTar));
            files.readArchive("base.tar", uneven(base));
            imp.finish();
            assertEquals("15\n", new String(store.file("base/5/PG_VERSION", START).orElseThrow()));
            assertEquals("long path", new String(store.file("pg_logical/" + "a".repeat(90) + "/" + "b".repeat(60), START)
                .orElseThrow()));
            RelTag rel = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
            assertEquals(3, store.relSize(rel, START).orElseThrow());
            assertArrayEquals(java.util.Arrays.copyOfRange(relation(3), 8192, 16384),
                store.pageHistory(rel, 1, START).baseImage());
            RelTag inTablespace = new RelTag(16390, 5, 16400, ForkNumber.VISIBILITYMAP);
            assertEquals(1, store.relSize(inTablespace, START).orElseThrow());
            assertEquals(java.util.Map.of(16390, "/srv/ts1"), store.tablespaces(START));
            assertTrue(store.files(START).contains("pg_tblspc/16390/PG_15_202209061/5/"), store.files(START).toString());
        }
    }

    @Test
    void garbageIsNotATar() throws Exception {
        byte[] bad = dataDirectoryTar();
        for (int i = 0; i < 100; i++) {
            bad[i] = (byte) ~bad[i]; // the first header's name and mode: its checksum no longer matches
        }
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
            imp.start(START);
            try {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new TarFiles(imp).readArchive("base.tar", new ByteArrayInputStream(bad)));
                assertTrue(e.getMessage().startsWith("base backup archive base.tar is not a valid tar"), e.getMessage());
            } finally {
                imp.abort();
            }
        }
    }

    @Test
    void aCutOffArchiveIsAnError() throws Exception {
        byte[] whole = dataDirectoryTar();
        byte[] cut = java.util.Arrays.copyOf(whole, 5000);
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
            imp.start(START);
            try {
                Exception e = assertThrows(Exception.class, () -> new TarFiles(imp).readArchive("base.tar",
                    new ByteArrayInputStream(cut)));
                assertTrue(e instanceof IllegalStateException || e instanceof IOException, e.toString());
            } finally {
                imp.abort();
            }
        }
    }

    @Test
    void randomBytesGiveOnlyClearErrors() throws Exception {
        Random rnd = new Random(9);
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            for (int i = 0; i < 200; i++) {
                byte[] g = new byte[512 * (1 + rnd.nextInt(4))];
                rnd.nextBytes(g);
                BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
                imp.start(START);
                try {
                    new TarFiles(imp).readArchive("base.tar", new ByteArrayInputStream(g));
                } catch (IllegalStateException | IOException expected) {
                    // the only failures allowed
                } finally {
                    imp.abort();
                }
            }
        }
    }
}
