package org.pageserver.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.pageserver.mount.CloneMount;
import org.pageserver.mount.StandbyConfig;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mount}: a writable clone of a tenant at an LSN as a PostgreSQL 15 data directory
 * (org.pageserver.mount). Prints {@code ready <MOUNTPOINT> <system_id> <lsn>} once
 * {@code postgres -D MOUNTPOINT} can start, and then runs until SIGTERM or SIGINT, which
 * unmount. Standard output carries only that line; messages go to standard error.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
    description = {"Mount a clone of a tenant at an LSN as a PostgreSQL 15 data directory: relation files read "
        + "block by block from the pageserver, every write kept in the upper directory.",
        "Prints \"ready MOUNTPOINT SYSTEM_ID LSN\" when postgres -D MOUNTPOINT can start; SIGTERM or SIGINT "
            + "unmounts. Mounting again with the same --upper resumes the clone."})
final class MountCommand implements Callable<Integer> {
    @Mixin
    ConnectionOptions connection;

    @Option(names = "--system-id", required = true, converter = Converters.SystemIdValue.class,
        description = "the tenant: its PostgreSQL system identifier")
    SystemId systemId;

    @Option(names = "--lsn", converter = Converters.LsnValue.class, description = "clone as of this LSN (X/Y)")
    Lsn lsn;

    @Option(names = "--latest", description = "clone as of the newest LSN the pageserver stored (or resume a clone)")
    boolean latest;

    @Option(names = "--upper", required = true, paramLabel = "DIR",
        description = "local directory for the clone's own files and writes (empty: a new clone; else resumed)")
    Path upper;

    @Option(names = "--owner", paramLabel = "USER",
        description = "owner of the mounted files, the user PostgreSQL runs as (default: the user running this)")
    String owner;

    @Option(names = "--standby", description = "start as a hot standby that follows the primary's WAL the pageserver "
        + "serves, from the primary's last checkpoint at or before the LSN")
    boolean standby;

    @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "an empty directory")
    Path mountPoint;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if ((lsn == null) == !latest) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give exactly one of --lsn X/Y and --latest");
        }
        String user = owner != null ? owner : System.getProperty("user.name");
        int uid = id(user, "-u");
        int gid = id(user, "-g");
        long started = System.nanoTime();
        CloneMount.Request request = new CloneMount.Request(connection.url(), connection.properties(), systemId, lsn,
            upper.toAbsolutePath(), mountPoint.toAbsolutePath(), uid, gid, standby ? StandbyConfig.primaryConninfo(
                connection.host, connection.port, connection.user, connection.password(), systemId.toString()) : null);
        CloneMount clone;
        try {
            clone = CloneMount.open(request, System.err);
        } catch (CloneMount.CloneException e) {
            spec.commandLine().getErr().println(Cli.errorLine(e.getMessage()));
            return Cli.SERVER_ERROR;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                clone.close();
                System.err.println("mount: unmounted " + mountPoint + "; " + clone.readStatistics());
            } catch (IOException | RuntimeException e) {
                System.err.println("mount: unmounting " + mountPoint + ": " + e.getMessage());
            }
            stopped.countDown();
        }, "unmount"));
        System.err.printf("mount: %s %sclone of %s at %s on %s: %d relation files (%d MB) below, %d ms (%s)%n",
            clone.resumed() ? "resumed" : "new", clone.state().standby() ? "standby " : "", clone.state().systemId(),
            clone.state().lsn(), mountPoint, clone.lowerFiles(), clone.lowerBytes() >> 20, (System.nanoTime() - started) / 1_000_000, clone.timings());
        spec.commandLine().getOut().println("ready " + mountPoint + " " + clone.state().systemId() + " "
            + clone.state().lsn());
        spec.commandLine().getOut().flush();
        stopped.await();
        return Cli.OK;
    }

    /** The user's uid or gid as id(1) gives it (through NSS, as PostgreSQL's own tools see users). */
    private int id(String user, String flag) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of("id", flag, user)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown user \"" + user + "\" for --owner");
        }
        return Integer.parseInt(out);
    }
}
