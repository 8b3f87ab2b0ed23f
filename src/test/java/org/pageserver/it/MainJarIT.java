package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code java -jar target/pageserver.jar}: the launch contract, config overrides, SIGTERM. */
class MainJarIT {
    static final Path JAR = Path.of("target/pageserver.jar");

    @TempDir
    Path tmp;

    Process launch(int port, Path log) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(List.of(java, "-Dpageserver.listen=127.0.0.1:" + port,
            "-Dpageserver.http-listen=127.0.0.1:" + PgCluster.freePort(),
            "-Dpageserver.data-dir=" + tmp.resolve("data"), "-jar", JAR.toString()))
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void startsServesAndStopsCleanlyOnSigterm() throws Exception {
        assertTrue(Files.exists(JAR), "mvn package builds " + JAR);
        int port = PgCluster.freePort();
        Path log = tmp.resolve("ps.log");
        Process p = launch(port, log);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!listening(port) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(listening(port), Files.readString(log));
            Process psql = new ProcessBuilder("psql", "-X", "-h", "127.0.0.1", "-p", String.valueOf(port), "-U",
                "postgres", "-c", "status").redirectErrorStream(true).start();
            String out = new String(psql.getInputStream().readAllBytes());
            assertEquals(0, psql.waitFor());
            assertTrue(out.contains("system_id") && out.contains("(0 rows)"), out);
            assertTrue(Files.isDirectory(tmp.resolve("data").resolve("tenants")));
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits after SIGTERM");
            assertTrue(Files.readString(log).contains("CoordinatedShutdown"), Files.readString(log));
            assertTrue(!listening(port));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aPortInUseEndsTheProcessWithAnError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
            Path log = tmp.resolve("busy.log");
            Process p = launch(taken.getLocalPort(), log);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gives up");
            assertNotEquals(0, p.exitValue());
            assertTrue(Files.readString(log).contains("cannot listen"), Files.readString(log));
        }
    }

    @Test
    void aStartCheckBindsTheListenersAndExitsWithStatusZero() throws Exception {
        Path log = tmp.resolve("check.log");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Dpageserver.start-check=true", "-Dpageserver.listen=127.0.0.1:0", "-Dpageserver.http-listen=127.0.0.1:0",
            "-Dpageserver.data-dir=" + tmp.resolve("data"), "-jar", JAR.toString()))
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stops by itself");
        assertEquals(0, p.exitValue(), Files.readString(log));
        assertTrue(Files.readString(log).contains("start check passed"), Files.readString(log));
    }

    /**
     * scripts/pageserver runs the jar with the archive the build made: classes come from it
     * (-Xshare:on makes a JVM that cannot map it fail instead of going on without it).
     */
    @Test
    void theLauncherLoadsClassesFromTheBuildsArchive() throws Exception {
        Path log = tmp.resolve("launcher.log");
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", "scripts/pageserver", "-Xshare:on", "-Xlog:class+load=info",
            "-Dpageserver.start-check=true", "-Dpageserver.listen=127.0.0.1:0", "-Dpageserver.http-listen=off",
            "-Dpageserver.data-dir=" + tmp.resolve("data")))
            .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stops by itself");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out.substring(Math.max(0, out.length() - 4000)));
        assertTrue(out.contains("org.pageserver.PageServer source: shared objects file (top)"),
            "the pageserver's own classes come from the dynamic archive");
        assertTrue(out.contains("org.apache.pekko.actor.typed.ActorSystem source: shared objects file (top)"),
            "and Pekko's");
    }
}
