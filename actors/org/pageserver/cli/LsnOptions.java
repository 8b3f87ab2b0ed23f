package org.pageserver.cli;

import org.pageserver.protocol.Lsn;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** As of which WAL position: {@code --lsn X/Y}, {@code --latest}, or both ("at least X/Y, newest available"). */
final class LsnOptions {
    @Option(names = "--lsn", converter = Converters.LsnValue.class, description = "as of this LSN (X/Y)")
    Lsn lsn;

    @Option(names = "--latest", description = "the newest version (with --lsn: at least that LSN)")
    boolean latest;

    /** The request's LSN; with --latest alone, 0/1: any LSN will do. */
    Lsn requestLsn(CommandLine.Model.CommandSpec spec) {
        if (lsn == null && !latest) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --lsn X/Y, --latest, or both");
        }
        return lsn != null ? lsn : new Lsn(1);
    }
}
