package org.pageserver.tenant;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import org.pageserver.Settings;

/** Configuration and fixtures shared by the actor tests. */
final class TestSupport {
    private TestSupport() {
    }

    static Config config() {
        return ConfigFactory.parseString("pekko.loglevel = INFO").withFallback(ConfigFactory.load());
    }

    static Settings settings(Path dataDir, Duration waitTimeout) {
        return settings(dataDir, waitTimeout, Settings.from(ConfigFactory.load()).maxPendingBytes());
    }

    /** With at most {@code maxPendingBytes} of WAL received and not stored before the stream waits. */
    static Settings settings(Path dataDir, Duration waitTimeout, long maxPendingBytes) {
        Settings base = Settings.from(ConfigFactory.load());
        return new Settings(base.listenHost(), 0, base.maxConnections(), base.authTimeout(),
            base.maxMessageSize(), dataDir, waitTimeout, base.redoWorkers(), base.pageCacheBytes(),
            base.materializeAfter(), false,
            maxPendingBytes, base.slotPrefix(), base.connectTimeout(), base.statusInterval(),
            Duration.ofMillis(50), Duration.ofMillis(200), base.blockCacheBytes(), base.selectorIdleSpin(),
            base.writeBufferBytes(), base.backgroundJobs(),
            base.retentionWindow(), base.imageAfter(), base.compactionInterval(), Duration.ofMillis(100),
            base.receiveTimeout());
    }

    static byte[] page(int fill) {
        byte[] p = new byte[8192];
        java.util.Arrays.fill(p, (byte) fill);
        return p;
    }
}
