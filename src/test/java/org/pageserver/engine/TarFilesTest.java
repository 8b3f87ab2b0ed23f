package org.pageserver.engine;

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

    /**
     * Fuzzing found it: an archive that ends inside a file's data (read from memory, so no
     * connection failed) escaped as the library's IOException, which callers take for the
     * connection's failure; it is the archive's error, like a header that ends early.
     */
    @Test
    void anArchiveEndingInsideAFileIsTheArchivesError() throws Exception {
        byte[] whole = dataDirectoryTar();
        int header = 0;
        while (!new String(whole, header, 12, java.nio.charset.StandardCharsets.US_ASCII).equals("base/5/16384")) {
            header += 512;
        }
        byte[] cut = java.util.Arrays.copyOf(whole, header + 512 + 5000); // inside its 3 blocks
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
            imp.start(START);
            try {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new TarFiles(imp).readArchive("base.tar", new ByteArrayInputStream(cut)));
                assertTrue(e.getMessage().contains("Truncated TAR archive"), e.getMessage());
            } finally {
                imp.abort();
            }
        }
    }

    /**
     * Fuzzing found them: archives the library calls "Corrupted TAR archive" (capitalized, which
     * the message matching missed), a bad sparse entry, a bad PAX header or a negative size
     * escaped as IOException, which callers take for the connection's failure. Each is now the
     * archive's error.
     */
    @Test
    void everyKindOfCorruptArchiveIsTheArchivesError() throws Exception {
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            for (String crash : List.of("corrupted-tar-archive", "corrupted-tar-archive-sparse-entry-is-invalid",
                "error-detected-parsing-the-pax-header", "broken-archive-entry-with-negative-size")) {
                byte[] archive;
                try (InputStream in = TarFilesTest.class.getResourceAsStream(
                    "/org/pageserver/tenant/TarFuzzTestInputs/readArchive/crash-" + crash)) {
                    archive = in.readAllBytes();
                }
                BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
                imp.start(START);
                try {
                    IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> new TarFiles(imp).readArchive("base.tar", new ByteArrayInputStream(archive)), crash);
                    assertTrue(e.getMessage().startsWith("base backup archive base.tar is not a valid tar"), e.getMessage());
                } finally {
                    imp.abort();
                }
            }
        }
    }

    /** A failure of the stream itself (the connection) stays the IOException it was. */
    @Test
    void theStreamsOwnFailureStaysAnIOException() throws Exception {
        byte[] whole = dataDirectoryTar();
        IOException broken = new IOException("connection reset");
        InputStream failing = new InputStream() {
            private int pos;

            @Override
            public int read() throws IOException {
                if (pos == 3000) {
                    throw broken;
                }
                return whole[pos++] & 0xFF;
            }
        };
        try (TenantStore store = TenantStore.open(tmp.resolve("store"), false)) {
            BaseBackupImport imp = new BaseBackupImport(store, SYSTEM_ID);
            imp.start(START);
            try {
                IOException e = assertThrows(IOException.class, () -> new TarFiles(imp).readArchive("base.tar", failing));
                assertEquals(broken, e);
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
