package org.pageserver.engine;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.pageserver.fuzz.FuzzChecks;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFileException;
import org.pageserver.storage.TenantStore;

/**
 * Fuzz target for the base backup import: a data directory's archive (ustar, GNU and PAX
 * headers, as Apache Commons Compress reads them) through {@link TarFiles} into
 * {@link BaseBackupImport}, whose batch is dropped after each input. The archive comes from
 * memory, so a bad one must be the archive's error, IllegalStateException (or the pg_control
 * parser's {@link ControlFileException} for a bad global/pg_control), never an IOException
 * that would be taken for a broken connection; and a header declaring a file of any size must
 * not make the importer allocate that much before the bytes arrive.
 */
class TarFuzzTest {
    static final Lsn START = Lsn.parse("0/2000028");
    static final SystemId SYSTEM_ID = SystemId.parse("7711515405097324774");

    private static TenantStore store;

    /** One store for the whole run: opening RocksDB per input would be most of the time spent. */
    private static synchronized TenantStore store() throws IOException {
        if (store == null) {
            Path dir = Files.createTempDirectory("tar-fuzz");
            store = TenantStore.open(dir, false);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                store.close();
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }));
        }
        return store;
    }

    @FuzzTest(maxDuration = "60s")
    void readArchive(byte[] input) throws Exception {
        TenantStore s = store();
        FuzzChecks.boundedAllocation(input.length, () -> {
            BaseBackupImport imp = new BaseBackupImport(s, SYSTEM_ID);
            imp.start(START);
            try {
                new TarFiles(imp).readArchive("base.tar", new ByteArrayInputStream(input));
            } catch (IllegalStateException | ControlFileException e) {
                // the archive's own fault, said so
            } finally {
                imp.abort();
            }
        });
    }
}
