package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.StorageMemory;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/** The opens of a data directory's stores at start-up, before any actor exists. */
class StoreOpensTest {
    private static final StorageMemory MEMORY = StorageMemory.of(64 << 20, 16 << 20, 2);

    @TempDir
    Path data;

    @Test
    void opensEveryAttachedTenantWithItsMetadata() {
        for (long id : new long[] {7, 8}) {
            try (TenantStore s = TenantStore.open(data.resolve("tenants").resolve(Long.toString(id)), false, MEMORY)) {
                s.putMeta(new TenantMeta(new SystemId(id), "host=x", 1, 16 << 20, new Lsn(0x1000), new Lsn(0x1000),
                    "slot", false));
            }
        }
        StoreOpens opens = StoreOpens.start(data, false, MEMORY, Runnable::run);
        assertEquals(2, opens.openings().size());
        for (StoreOpens.Opening o : opens.openings()) {
            StoreOpens.Opened opened = o.result().join();
            assertEquals(o.dir().getFileName().toString(), opened.meta().systemId().toString());
            opened.store().close();
        }
    }

    @Test
    void anImportThatNeverFinishedIsRemovedAndSaysSo() {
        Path dir = data.resolve("tenants").resolve("9");
        TenantStore.open(dir, false, MEMORY).close();
        StoreOpens opens = StoreOpens.start(data, false, MEMORY, Runnable::run);
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
            () -> opens.openings().get(0).result().join());
        assertTrue(e.getCause().getMessage().contains("incomplete import in " + dir + " removed"), e.getMessage());
        assertFalse(Files.exists(dir));
    }

    @Test
    void finishesTheDeletesACrashInterruptedFirst() throws Exception {
        Path doomed = data.resolve("deleting").resolve("10");
        Files.createDirectories(doomed);
        Files.writeString(doomed.resolve("000001.sst"), "x");
        assertTrue(StoreOpens.start(data, false, MEMORY, Runnable::run).openings().isEmpty());
        assertFalse(Files.exists(data.resolve("deleting")));
    }
}
