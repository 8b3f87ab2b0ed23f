package org.pageserver.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.pageserver.storage.StorageMemory;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The opening of every store the data directory's {@code tenants/} holds, started as early as
 * the process can: before the actor system exists, so that RocksDB's replay of its own WAL
 * (after a crash, what it wrote since the last memtable flush: up to the write-buffer budget)
 * runs while the JVM loads the actor system, the listeners and their classes, rather than
 * after them. The tenants' actor then only waits for what is not open yet. Blocking work, on
 * the executor given.
 */
public final class StoreOpens {
    private static final Logger LOG = LoggerFactory.getLogger(StoreOpens.class);

    /** A store opened, with the metadata that names its tenant. */
    public record Opened(TenantStore store, TenantMeta meta) {
    }

    /** One tenant directory's open, under way or done. */
    public record Opening(Path dir, CompletableFuture<Opened> result) {
    }

    private final List<Opening> openings;

    private StoreOpens(List<Opening> openings) {
        this.openings = openings;
    }

    /**
     * Finishes the deletes a crash interrupted, then starts opening each tenant directory on
     * {@code executor}. Blocking for the listing only.
     */
    public static StoreOpens start(Path dataDir, boolean sync, StorageMemory memory, Executor executor) {
        TenantDirectories dirs = new TenantDirectories(dataDir);
        Path tenants = dirs.tenantsDir();
        try {
            Files.createDirectories(tenants);
            dirs.finishDeletes();
            try (Stream<Path> list = Files.list(tenants)) {
                return new StoreOpens(list.filter(Files::isDirectory).sorted()
                    .map(dir -> new Opening(dir, CompletableFuture.supplyAsync(() -> open(dir, sync, memory), executor)))
                    .toList());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the tenants in " + tenants, e);
        }
    }

    public List<Opening> openings() {
        return openings;
    }

    /**
     * Blocking. Opens one tenant's store; a directory without metadata is an import that never
     * finished, and is removed (an exception says so).
     */
    public static Opened open(Path dir, boolean sync, StorageMemory memory) {
        long opening = System.nanoTime();
        TenantStore store = TenantStore.open(dir, sync, memory);
        long openMillis = (System.nanoTime() - opening) / 1_000_000;
        Optional<TenantMeta> meta = store.meta();
        if (meta.isEmpty()) {
            store.close();
            TenantDirectories.deleteTree(dir);
            throw new IllegalStateException("incomplete import in " + dir + " removed");
        }
        // the open replays RocksDB's own WAL since the last memtable flush: what a restart after
        // a crash waits for, so it is said
        LOG.info("re-attaching tenant {} ({}): store opened in {} ms", meta.get().systemId(), dir, openMillis);
        return new Opened(store, meta.get());
    }
}
