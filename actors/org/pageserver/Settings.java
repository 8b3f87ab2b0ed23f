package org.pageserver;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code pageserver} section of the configuration, read once at start-up. Keys are a
 * contract with operators: see the README's configuration reference.
 */
public record Settings(String listenHost, int listenPort, int maxConnections, Duration authTimeout,
                       int maxMessageSize, Path dataDir, Duration waitLsnTimeout, int redoWorkers,
                       long pageCacheBytes, int materializeAfter,
                       boolean storageSync, long maxPendingBytes, String slotPrefix, Duration connectTimeout,
                       Duration statusInterval, Duration reconnectMinBackoff, Duration reconnectMaxBackoff,
                       long blockCacheBytes, Duration selectorIdleSpin, long writeBufferBytes,
                       int backgroundJobs, Duration retentionWindow, int imageAfter, Duration compactionInterval,
                       Duration diskFullRetry, Duration receiveTimeout) {

    /** Dispatcher for blocking work (storage, fsync, replication connections). */
    public static final String BLOCKING_DISPATCHER = "pageserver.blocking-dispatcher";

    /**
     * Dispatcher of everything a page read crosses: the pgwire connections' stream actors and
     * the page cache actors. Kept apart from the default dispatcher (WAL decoding, tenant
     * bookkeeping) so that ingest work never queues ahead of a page request, and small so that a
     * request's hops between connection and page cache stay on one warm thread instead of
     * waking another for each.
     */
    public static final String SERVING_DISPATCHER = "pageserver.serving-dispatcher";

    /**
     * Dispatcher of the storage reads of page requests (the page cache's misses, relation and
     * database sizes): blocking, so not on the serving threads, but apart from the blocking
     * pool's writes and imports, on a few threads that look for the next read a while before
     * they park (reads come in bursts: one per miss).
     */
    public static final String READ_DISPATCHER = "pageserver.read-dispatcher";

    public static Settings from(Config root) {
        Config c = root.getConfig("pageserver");
        String listen = c.getString("listen");
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("pageserver.listen must be host:port, got \"" + listen + "\"");
        }
        return new Settings(
            listen.substring(0, colon),
            Integer.parseInt(listen.substring(colon + 1)),
            c.getInt("max-connections"),
            c.getDuration("auth-timeout"),
            Math.toIntExact(c.getBytes("max-message-size")),
            Path.of(c.getString("data-dir")).toAbsolutePath(),
            c.getDuration("wait-lsn-timeout"),
            c.getInt("redo-workers"),
            c.getBytes("page-cache"),
            c.getInt("materialize-after"),
            c.getBoolean("storage.sync"),
            c.getBytes("storage.max-pending-bytes"),
            c.getString("wal-receiver.slot-prefix"),
            c.getDuration("wal-receiver.connect-timeout"),
            c.getDuration("wal-receiver.status-interval"),
            c.getDuration("wal-receiver.reconnect-min-backoff"),
            c.getDuration("wal-receiver.reconnect-max-backoff"),
            c.getBytes("storage.block-cache"),
            c.getDuration("selector-idle-spin"),
            c.getBytes("storage.write-buffers"),
            c.getInt("storage.background-jobs"),
            c.getDuration("retention.window"),
            c.getInt("compaction.image-after"),
            c.getDuration("compaction.interval"),
            c.getDuration("storage.disk-full-retry"),
            c.getDuration("wal-receiver.timeout"));
    }

    /** RocksDB's memory and threads, shared by every tenant's store. */
    public org.pageserver.storage.StorageMemory storageMemory() {
        return org.pageserver.storage.StorageMemory.of(blockCacheBytes, writeBufferBytes, backgroundJobs);
    }

    /** What each tenant's compaction does (org.pageserver.storage.Compaction). */
    public org.pageserver.storage.Compaction.Config compaction() {
        return new org.pageserver.storage.Compaction.Config(imageAfter, retentionWindow);
    }
}
