package org.pageserver.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The pageserver as operators run it, {@code scripts/pageserver} (java -jar with the build's
 * class-data-sharing archive and MALLOC_ARENA_MAX=2), in a child process of its own: what its
 * memory and threads are is then measured on that process alone. The script execs java, so the
 * process is the server's.
 */
final class ServerProcess implements AutoCloseable {
    static final Path LAUNCHER = Path.of("scripts/pageserver");

    private final Process process;
    private final int port;
    private final Path log;
    /** System.nanoTime() just before the process was started. */
    private final long startedNanos;

    private ServerProcess(Process process, int port, Path log, long startedNanos) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.startedNanos = startedNanos;
    }

    /** @param jvmAndConfig extra java options before -jar (-Xmx..., -Dpageserver....=...) */
    static ServerProcess start(Path dataDir, List<String> jvmAndConfig) throws IOException, InterruptedException {
        return start(dataDir, jvmAndConfig, PgCluster.freePort());
    }

    /** As above on a given pgwire port (a restart on the same data directory keeps its port). */
    static ServerProcess start(Path dataDir, List<String> jvmAndConfig, int port) throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        Path log = dataDir.resolve("pageserver.log");
        List<String> cmd = new ArrayList<>(List.of("bash", LAUNCHER.toString(), "-Dpageserver.listen=127.0.0.1:" + port, "-Dpageserver.http-listen=127.0.0.1:" + PgCluster.freePort(),
            "-Dpageserver.data-dir=" + dataDir.resolve("data")));
        cmd.addAll(jvmAndConfig);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        // the JVM the tests run on, not whichever java is first on the PATH
        pb.environment().put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        long startedNanos = System.nanoTime();
        Process p = pb.start();
        ServerProcess s = new ServerProcess(p, port, log, startedNanos);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Socket sock = new Socket()) {
                sock.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return s;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    s.close();
                    throw new IOException("pageserver did not start listening on " + port + ": "
                        + Files.readString(log), e);
                }
                Thread.sleep(100);
            }
        }
    }

    int port() {
        return port;
    }

    /** The server's output (its log), written while it runs. */
    Path log() {
        return log;
    }

    /** Nanoseconds since the process was started. */
    long sinceStartNanos() {
        return System.nanoTime() - startedNanos;
    }

    String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    /** kill -9: no shutdown hook, nothing flushed. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Waits for the process to end by itself; its exit status. */
    int awaitExit(java.time.Duration timeout) throws InterruptedException, IOException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IOException("pageserver still running after " + timeout + ": " + Files.readString(log));
        }
        return process.exitValue();
    }

    long pid() {
        return process.pid();
    }

    /** psql -At against the server. */
    String psql(String sql) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
            String.valueOf(port), "-U", "postgres", "-d", "postgres", "-c", sql).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("psql timed out: " + sql);
        }
        if (p.exitValue() != 0) {
            throw new IOException("psql failed (" + p.exitValue() + "): " + out);
        }
        return out.trim();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
