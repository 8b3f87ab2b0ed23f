package org.pageserver.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.pageserver.protocol.Lsn;

/**
 * A real PostgreSQL 15 for integration tests: its own directory under java.io.tmpdir and its
 * own free port, so tests run in parallel. When the JVM runs as root (CI), PostgreSQL runs as
 * the {@code postgres} user through runuser, since it refuses to run as root.
 */
public final class PgCluster implements AutoCloseable {
    public static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");
    static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    private final Path dir;
    private final Path data;
    private final int port;
    private final Path log;
    private boolean running;

    /** Options for a new cluster. */
    public static final class Builder {
        private final Map<String, String> conf = new LinkedHashMap<>();
        private final List<String> initdb = new ArrayList<>();
        private final List<String> hba = new ArrayList<>();

        Builder() {
            conf.put("listen_addresses", "'127.0.0.1'");
            conf.put("wal_level", "replica");
            conf.put("max_wal_senders", "10");
            conf.put("max_replication_slots", "10");
            conf.put("shared_buffers", "32MB");
            conf.put("fsync", "off");
            conf.put("max_connections", "50");
            conf.put("log_min_messages", "warning");
        }

        public Builder set(String key, String value) {
            conf.put(key, value);
            return this;
        }

        public Builder initdb(String... args) {
            initdb.addAll(Arrays.asList(args));
            return this;
        }

        /** A pg_hba.conf line placed before the default trust lines. */
        public Builder hba(String line) {
            hba.add(line);
            return this;
        }

        public PgCluster start() throws IOException, InterruptedException {
            return new PgCluster(this);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private PgCluster(Builder b) throws IOException, InterruptedException {
        dir = Files.createTempDirectory("pgcluster-");
        dir.toFile().setExecutable(true, false);
        dir.toFile().setReadable(true, false);
        data = dir.resolve("data");
        log = dir.resolve("postgres.log");
        port = freePort();
        if (ROOT) {
            run(List.of("chown", "postgres", dir.toString()), true);
        }
        List<String> init = new ArrayList<>(List.of(BIN.resolve("initdb").toString(), "-D", data.toString(), "-U",
            "postgres", "--auth=trust", "--no-sync"));
        init.addAll(b.initdb);
        asPostgres(init);
        StringBuilder conf = new StringBuilder("\n");
        conf.append("port = ").append(port).append('\n');
        conf.append("unix_socket_directories = '").append(dir).append("'\n");
        b.conf.forEach((k, v) -> conf.append(k).append(" = ").append(v).append('\n'));
        appendAsPostgres(data.resolve("postgresql.conf"), conf.toString());
        Path hbaFile = data.resolve("pg_hba.conf");
        String hba = String.join("\n", b.hba) + "\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n"
            + "host replication all 127.0.0.1/32 trust\n";
        writeAsPostgres(hbaFile, hba);
        Runtime.getRuntime().addShutdownHook(new Thread(this::closeQuietly));
        start();
    }

    /**
     * A cluster on a data directory unpacked from a tar (a base backup), owned by the server's
     * user with mode 0700 as PostgreSQL demands, on its own port and socket directory. Not
     * started: {@link #start()} it.
     */
    public static PgCluster fromTar(Path tar) throws IOException, InterruptedException {
        return new PgCluster(tar);
    }

    private PgCluster(Path tar) throws IOException, InterruptedException {
        dir = Files.createTempDirectory("pgrestore-");
        dir.toFile().setExecutable(true, false);
        dir.toFile().setReadable(true, false);
        data = dir.resolve("data");
        log = dir.resolve("postgres.log");
        port = freePort();
        Files.createDirectories(data);
        run(List.of("tar", "-xf", tar.toString(), "-C", data.toString()), false);
        appendAsPostgres(data.resolve("postgresql.conf"), "\nport = " + port + "\nunix_socket_directories = '" + dir
            + "'\nlisten_addresses = '127.0.0.1'\n");
        if (ROOT) {
            run(List.of("chown", "-R", "postgres", dir.toString()), true);
        }
        run(List.of("chmod", "700", data.toString()), false);
        Runtime.getRuntime().addShutdownHook(new Thread(this::closeQuietly));
    }

    /** The server's log file. */
    public Path logFile() {
        return log;
    }

    public void start() throws IOException, InterruptedException {
        asPostgres(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", log.toString(), "-w", "-t", "60",
            "start"));
        running = true;
    }

    public void stop() throws IOException, InterruptedException {
        if (running) {
            asPostgres(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "stop"));
            running = false;
        }
    }

    /**
     * pg_ctl restart with a shutdown mode: {@code fast} (the walsenders send all the WAL up to
     * the shutdown checkpoint first) or {@code immediate} (a crash: the start replays the WAL).
     */
    public void restart(String mode) throws IOException, InterruptedException {
        asPostgres(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", log.toString(), "-m", mode,
            "-w", "-t", "60", "restart"));
        running = true;
    }

    /** An empty directory owned by postgres under the cluster's own, for a tablespace's location. */
    public Path tablespaceDirectory(String name) throws IOException, InterruptedException {
        Path d = dir.resolve(name);
        asPostgres(List.of("mkdir", "-m", "700", d.toString()));
        return d;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return data;
    }

    public Path dir() {
        return dir;
    }

    public String conninfo() {
        return "host=127.0.0.1 port=" + port + " user=postgres dbname=postgres";
    }

    public Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres");
    }

    /** psql -At: the output, or an exception with its stderr. */
    public String psql(String sql) throws IOException, InterruptedException {
        return run(List.of("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String.valueOf(port),
            "-U", "postgres", "-d", "postgres", "-c", sql), false).trim();
    }

    /** Runs a SQL script with psql -f: each statement on its own, as a file would be. */
    public String psqlScript(String sql) throws IOException, InterruptedException {
        Path f = Files.createTempFile(dir, "script-", ".sql");
        Files.writeString(f, sql);
        f.toFile().setReadable(true, false);
        return run(List.of("psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
            String.valueOf(port), "-U", "postgres", "-d", "postgres", "-f", f.toString()), false).trim();
    }

    public String pgbench(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(BIN.resolve("pgbench").toString(), "-h", "127.0.0.1", "-p",
            String.valueOf(port), "-U", "postgres"));
        cmd.addAll(Arrays.asList(args));
        cmd.add("postgres");
        return run(cmd, false);
    }

    public String pgWaldump(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(BIN.resolve("pg_waldump").toString(), "-p",
            data.resolve("pg_wal").toString()));
        cmd.addAll(Arrays.asList(args));
        return run(cmd, false);
    }

    public String pgControlData() throws IOException, InterruptedException {
        return run(List.of(BIN.resolve("pg_controldata").toString(), "-D", data.toString()), false);
    }

    public Lsn flushLsn() throws IOException, InterruptedException {
        return Lsn.parse(psql("select pg_current_wal_flush_lsn()"));
    }

    /** The bytes of the primary's WAL in [from, to), read from its segment files (1 timeline). */
    public byte[] walBytes(Lsn from, Lsn to, int segSize) throws IOException {
        byte[] out = new byte[(int) (to.value() - from.value())];
        long pos = from.value();
        while (pos < to.value()) {
            long seg = pos / segSize;
            String name = String.format("%08X%08X%08X", 1, seg / (0x100000000L / segSize), seg % (0x100000000L / segSize));
            byte[] file = Files.readAllBytes(data.resolve("pg_wal").resolve(name));
            int off = (int) (pos % segSize);
            int n = (int) Math.min(segSize - off, to.value() - pos);
            System.arraycopy(file, off, out, (int) (pos - from.value()), n);
            pos += n;
        }
        return out;
    }

    @Override
    public void close() {
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            if (running) {
                asPostgres(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"));
                running = false;
            }
        } catch (Exception ignored) {
            // best effort
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException ignored) {
            // already gone
        }
    }

    static int freePort() throws IOException {
        return TestPorts.take();
    }

    private void asPostgres(List<String> cmd) throws IOException, InterruptedException {
        run(cmd, true);
    }

    private void writeAsPostgres(Path file, String text) throws IOException, InterruptedException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    private void appendAsPostgres(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    }

    /** Runs a command (as postgres when asked and running as root); output to a file, never a blocked pipe. */
    String run(List<String> cmd, boolean asPostgres) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgres && ROOT && !cmd.get(0).equals("chown")) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(cmd);
        Path out = Files.createTempFile("pgcmd-", ".out");
        Path err = Files.createTempFile("pgcmd-", ".err");
        try {
            Process p = new ProcessBuilder(full).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + full);
            }
            String o = Files.readString(out);
            if (p.exitValue() != 0) {
                throw new IOException("command failed (" + p.exitValue() + "): " + String.join(" ", full) + "\n"
                    + Files.readString(err) + o + (Files.exists(log) ? "\npostgres log: " + log : ""));
            }
            return o;
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
