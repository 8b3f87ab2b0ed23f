package org.pageserver.cli;

import java.util.concurrent.Callable;
import org.pageserver.protocol.pgwire.Scram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "scram-secret", mixinStandardHelpOptions = true,
    description = "Print a SCRAM-SHA-256 secret for pageserver.auth.users (PostgreSQL's format).")
final class ScramSecretCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PASSWORD")
    String password;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().getOut().println(Scram.Secret.build(password));
        return Cli.OK;
    }
}
