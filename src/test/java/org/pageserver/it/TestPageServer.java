package org.pageserver.it;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.pageserver.PageServer;
import org.pageserver.Settings;
import org.pageserver.tenant.ReplicationBootstrap;

/** A pageserver running in the test JVM on its own port and data directory. */
public final class TestPageServer implements AutoCloseable {
    private final ActorSystem<PageServer.Command> system;
    private final int port;
    private final Path dataDir;
    private final int httpPort;

    private TestPageServer(ActorSystem<PageServer.Command> system, int port, Path dataDir, int httpPort) {
        this.system = system;
        this.port = port;
        this.dataDir = dataDir;
        this.httpPort = httpPort;
    }

    public static TestPageServer start(Path dataDir) throws IOException, InterruptedException {
        return start(dataDir, Map.of());
    }

    public static TestPageServer start(Path dataDir, Map<String, Object> overrides) throws IOException, InterruptedException {
        return start(dataDir, PgCluster.freePort(), overrides);
    }

    /** On a given port: a restart where clients expect the server to be. */
    public static TestPageServer start(Path dataDir, int port, Map<String, Object> overrides)
        throws IOException, InterruptedException {
        Map<String, Object> m = new java.util.HashMap<>(overrides);
        m.put("pageserver.listen", "127.0.0.1:" + port);
        m.put("pageserver.data-dir", dataDir.toString());
        m.putIfAbsent("pageserver.http-listen", "127.0.0.1:" + PgCluster.freePort());
        m.putIfAbsent("pageserver.wait-lsn-timeout", "20s");
        m.putIfAbsent("pageserver.wal-receiver.reconnect-min-backoff", "100ms");
        m.putIfAbsent("pageserver.wal-receiver.reconnect-max-backoff", "1s");
        m.put("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off");
        Config config = ConfigFactory.parseMap(m).withFallback(ConfigFactory.load());
        Settings settings = Settings.from(config);
        ActorSystem<PageServer.Command> system = ActorSystem.create(PageServer.create(settings,
            new ReplicationBootstrap(settings)), "pageserver-" + port, config);
        String http = String.valueOf(m.get("pageserver.http-listen"));
        TestPageServer s = new TestPageServer(system, port, dataDir,
            http.equals("off") ? -1 : Integer.parseInt(http.substring(http.lastIndexOf(':') + 1)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Socket sock = new Socket()) {
                sock.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return s;
            } catch (IOException e) {
                if (system.getWhenTerminated().toCompletableFuture().isDone()) {
                    throw new IOException("pageserver stopped before listening on " + port + " (see the log)", e);
                }
                if (System.nanoTime() > deadline) {
                    s.close();
                    throw new IOException("pageserver did not start listening on " + port, e);
                }
                Thread.sleep(50);
            }
        }
    }

    public int port() {
        return port;
    }

    /** The HTTP listener's port (-1 when pageserver.http-listen is off); it may still be binding. */
    public int httpPort() {
        return httpPort;
    }

    public Path dataDir() {
        return dataDir;
    }

    public String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    /** psql -At against the pageserver: the real client, as an operator would use it. */
    public String psql(String sql) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
            String.valueOf(port), "-U", "postgres", "-d", "postgres", "-c", sql));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("psql timed out: " + sql);
        }
        if (p.exitValue() != 0) {
            throw new IOException("psql failed (" + p.exitValue() + "): " + out);
        }
        return out.trim();
    }

    /** The status row of one tenant, split into its columns. */
    public String[] statusRow() throws IOException, InterruptedException {
        String s = psql("status");
        if (s.isEmpty()) {
            return null;
        }
        return s.split("\n")[0].split("\\|", -1);
    }

    public void awaitDurable(org.pageserver.protocol.Lsn lsn, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String[] row = statusRow();
        while (row == null || org.pageserver.protocol.Lsn.parse(row[4]).isBefore(lsn)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("durable_lsn did not reach " + lsn + " in " + timeout + ": "
                    + (row == null ? "no tenant" : String.join("|", row)));
            }
            Thread.sleep(100);
            row = statusRow();
        }
    }

    @Override
    public void close() {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("pageserver did not stop", e);
        }
    }
}
