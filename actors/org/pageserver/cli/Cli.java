package org.pageserver.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.sql.SQLException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command-line client in the same jar: {@code java -jar target/pageserver.jar <command>}
 * (with no command the jar runs the server). Each subcommand is a picocli command with its own
 * {@code --help}. Exit status 0 on success, 1 when the server answered with an error (or the
 * work failed), 2 on bad usage.
 */
@Command(name = "pageserver", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
    description = "With no command: run the pageserver (configuration: -Dconfig.file, see README). "
        + "With a command: a client of a running pageserver.",
    subcommands = {ServerQueryCommands.Status.class, ServerQueryCommands.CallMeMaybe.class,
        PageStreamCommands.GetPage.class, PageStreamCommands.Nblocks.class, PageStreamCommands.Exists.class,
        PageStreamCommands.DbSize.class, BaseBackupCommand.class, MountCommand.class, ServerQueryCommands.ControlFile.class,
        ScramSecretCommand.class, CommandLine.HelpCommand.class})
public final class Cli {
    static final int OK = 0;
    static final int SERVER_ERROR = 1;
    static final int USAGE = 2;

    /** Runs one command; returns the process exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        CommandLine cl = commandLine(out, err);
        if (args.length == 0) {
            cl.usage(cl.getOut());
            return USAGE;
        }
        return cl.execute(args);
    }

    static CommandLine commandLine(PrintStream out, PrintStream err) {
        CommandLine cl = new CommandLine(new Cli());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, command, parsed) -> {
            if (e instanceof CommandLine.ParameterException pe) {
                throw pe;
            }
            command.getErr().println(errorLine(e instanceof SQLException || e instanceof IllegalArgumentException
                || e instanceof java.io.IOException ? e.getMessage() : e.toString()));
            return SERVER_ERROR;
        });
        cl.setParameterExceptionHandler((e, a) -> {
            // as PostgreSQL's tools do: the error, then where the help is
            CommandLine c = e.getCommandLine();
            c.getErr().println("error: " + e.getMessage());
            c.getErr().println("Try \"" + c.getCommandSpec().qualifiedName() + " --help\" for more information.");
            return USAGE;
        });
        return cl;
    }

    /**
     * "error: " and the message; a server's message loses its own severity word (pgjdbc's
     * "ERROR: " or "FATAL: "), which would say it twice.
     */
    static String errorLine(String message) {
        String m = String.valueOf(message);
        for (String severity : new String[] {"ERROR: ", "FATAL: "}) {
            if (m.startsWith(severity)) {
                m = m.substring(severity.length()).stripLeading();
                break;
            }
        }
        return "error: " + m;
    }

    /** The version in the jar's manifest (the pom's), when run from the jar. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Cli.class.getPackage().getImplementationVersion();
            return new String[] {"pageserver " + (v == null ? "(development build)" : v)};
        }
    }
}
