package org.pageserver.protocol.pgwire;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL 15 cluster for tests: initdb into a fresh directory under /tmp, start on
 * a free port (never 5432) listening on 127.0.0.1 and on a Unix socket in that directory, run
 * SQL through psql as the superuser, stop with "pg_ctl stop -m immediate" and delete everything.
 * PostgreSQL refuses to run as root, so when we are root every command runs as the "postgres"
 * user via runuser (the directory is chowned to it).
 *
 * <pre>
 *   initdb -D DIR/data -U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=HBA
 *   pg_ctl -D DIR/data -l DIR/log -w -o "-p PORT -c listen_addresses=127.0.0.1
 *          -c unix_socket_directories=DIR -c password_encryption=ENC" start
 *   psql -h DIR -p PORT -U postgres -d postgres -X -A -t -v ON_ERROR_STOP=1 -c SQL
 * </pre>
 */
public final class RealPostgres implements AutoCloseable {

    public static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");

    public final Path dir;
    public final int port;
    private final boolean root;

    private RealPostgres(Path dir, int port, boolean root) {
        this.dir = dir;
        this.port = port;
        this.root = root;
    }

    public static boolean available() {
        return Files.isExecutable(BIN.resolve("postgres")) && Files.isExecutable(BIN.resolve("initdb"));
    }

    public static int freePort() throws IOException {
        return org.pageserver.it.TestPorts.take();
    }

    /**
     * @param hostAuth pg_hba method for TCP connections ("scram-sha-256", "md5", "trust")
     * @param passwordEncryption password_encryption setting ("scram-sha-256" or "md5")
     */
    public static RealPostgres start(String hostAuth, String passwordEncryption) throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = Files.createTempDirectory("pgwire-pg15-");
        int port = freePort();
        RealPostgres pg = new RealPostgres(dir, port, root);
        if (root) {
            run(List.of("chown", "-R", "postgres", dir.toString()), false);
        }
        pg.runAsPg(List.of(BIN.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "postgres",
                "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=" + hostAuth));
        pg.runAsPg(List.of(BIN.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-l",
                dir.resolve("log").toString(), "-w", "-t", "60", "-o",
                "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir
                        + " -c password_encryption=" + passwordEncryption + " -c fsync=off", "start"));
        return pg;
    }

    private String runAsPg(List<String> cmd) throws Exception {
        List<String> full = new ArrayList<>();
        if (root) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(cmd);
        return run(full, true);
    }

    private static String run(List<String> cmd, boolean check) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (check && p.exitValue() != 0) {
            throw new IllegalStateException("command failed (" + p.exitValue() + "): " + cmd + "\n" + text);
        }
        return text;
    }

    /** Runs SQL as the superuser over the Unix socket; returns psql's unaligned, tuples-only output. */
    public String psql(String sql) throws Exception {
        return runAsPg(List.of(BIN.resolve("psql").toString(), "-h", dir.toString(), "-p", String.valueOf(port),
                "-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)).strip();
    }

    @Override
    public void close() throws IOException {
        try {
            runAsPg(List.of(BIN.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m",
                    "immediate", "stop"));
        } catch (Exception e) {
            throw new IOException("could not stop PostgreSQL in " + dir, e);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
