package org.pageserver.cli;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.pageserver.protocol.Lsn;
import org.postgresql.PGConnection;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code basebackup}: a data directory as of an LSN, from the pgwire command of the same name,
 * into a directory (extracted as it arrives: directories 0700, files 0600, as PostgreSQL wants
 * them) or a tar file, as of {@code --lsn} or, with {@code --latest} or neither, the newest LSN.
 * On a terminal a progress line shows the bytes received and the rate.
 */
@Command(name = "basebackup", mixinStandardHelpOptions = true,
    description = "A data directory as of an LSN, on which a stock PostgreSQL 15 starts without replay.")
final class BaseBackupCommand implements Callable<Integer> {
    @Mixin
    ConnectionOptions connection;
    @Mixin
    LsnOptions lsn;
    @Mixin
    TenantOption tenant;
    @Option(names = "--minimal", description = "no relation files: what a compute reading every page from the pageserver needs")
    boolean minimal;
    @ArgGroup(multiplicity = "1")
    Target target;
    @Spec
    CommandSpec spec;

    /** Where the backup goes: exactly one of the two. */
    static final class Target {
        @Option(names = "-D", paramLabel = "DIR", description = "extract into this directory (new or empty)")
        Path directory;
        @Option(names = "-f", paramLabel = "FILE.tar", description = "write the tar to this file")
        Path file;
    }

    @Override
    public Integer call() throws Exception {
        // neither --lsn nor --latest: the latest, as the pgwire command without an LSN
        if (lsn.lsn != null && lsn.latest) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --lsn X/Y or --latest, not both");
        }
        if (target.directory != null && Files.exists(target.directory)) {
            try (var entries = Files.list(target.directory)) {
                if (entries.findAny().isPresent()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "directory " + target.directory
                        + " exists and is not empty");
                }
            }
        }
        String sql = "basebackup " + tenant.systemId + " " + (lsn.lsn == null ? "latest" : lsn.lsn.toString())
            + (minimal ? " minimal" : "");
        PrintWriter err = spec.commandLine().getErr();
        Progress progress = new Progress(System.console() != null ? err : null);
        try (Connection c = DriverManager.getConnection(connection.url(), connection.properties())) {
            org.postgresql.copy.CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            if (target.file != null) {
                try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(target.file), 1 << 16)) {
                    copy.copyOut(sql, progress.counting(out));
                }
            } else {
                extractWhileReceiving(copy, sql, progress);
            }
        }
        progress.done();
        return Cli.OK;
    }

    /** The COPY is read on this thread and piped to an extractor on another. */
    private void extractWhileReceiving(org.postgresql.copy.CopyManager copy, String sql, Progress progress)
        throws Exception {
        Files.createDirectories(target.directory);
        Files.setPosixFilePermissions(target.directory, PosixFilePermissions.fromString("rwx------"));
        PipedInputStream in = new PipedInputStream(1 << 20);
        ExecutorService extractor = Executors.newSingleThreadExecutor();
        try {
            Future<Void> extracted;
            try (PipedOutputStream pipe = new PipedOutputStream(in)) {
                extracted = extractor.submit(() -> {
                    extract(in, target.directory);
                    return null;
                });
                copy.copyOut(sql, progress.counting(pipe));
            }
            extracted.get();
        } finally {
            extractor.shutdownNow();
        }
    }

    /** Untars into {@code dir}, refusing any entry that would land outside it. */
    static void extract(InputStream tarBytes, Path dir) throws IOException {
        Path root = dir.toAbsolutePath().normalize();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(tarBytes)) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                Path to = root.resolve(e.getName()).normalize();
                if (!to.startsWith(root)) {
                    throw new IOException("tar entry " + e.getName() + " is outside " + root);
                }
                if (e.isDirectory()) {
                    Files.createDirectories(to);
                    Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwx------"));
                } else if (e.isFile()) {
                    Files.createDirectories(to.getParent());
                    Files.copy(tar, to);
                    Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rw-------"));
                }
            }
        }
    }

    /** Bytes received and the rate, redrawn on one terminal line at most five times a second. */
    static final class Progress {
        private final PrintWriter terminal;
        private final long started = System.nanoTime();
        private long bytes;
        private long lastDrawn;

        Progress(PrintWriter terminal) {
            this.terminal = terminal;
        }

        OutputStream counting(OutputStream out) {
            return new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    add(len);
                }

                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    add(1);
                }
            };
        }

        private void add(long n) {
            bytes += n;
            long now = System.nanoTime();
            if (terminal != null && now - lastDrawn > 200_000_000L) {
                lastDrawn = now;
                draw(now);
            }
        }

        private void draw(long now) {
            double seconds = Math.max(1e-3, (now - started) / 1e9);
            terminal.printf("\r%,d MB received, %.1f MB/s   ", bytes >> 20, bytes / seconds / (1 << 20));
            terminal.flush();
        }

        void done() {
            if (terminal != null) {
                draw(System.nanoTime());
                terminal.println();
            }
        }
    }
}
