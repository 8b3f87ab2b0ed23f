package org.pageserver.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The GetPage@LSN family: one pagestream request each, over {@link PageClient}. */
final class PageStreamCommands {
    private PageStreamCommands() {
    }

    /** What every pagestream command takes: the server, the tenant, the LSN. */
    abstract static class Base implements Callable<Integer> {
        @Mixin
        ConnectionOptions connection;
        @Mixin
        LsnOptions lsn;
        @Mixin
        TenantOption tenant;
        @Spec
        CommandSpec spec;

        @Override
        public final Integer call() throws Exception {
            Lsn at = lsn.requestLsn(spec);
            try (PageClient client = PageClient.connect(connection.url(), connection.user, connection.password(),
                tenant.systemId)) {
                run(client, at, lsn.latest, spec.commandLine().getOut());
            }
            return Cli.OK;
        }

        abstract void run(PageClient client, Lsn at, boolean latest, PrintWriter out) throws Exception;
    }

    /** --rel, with its notation explained once. */
    abstract static class OfRelation extends Base {
        @Option(names = "--rel", required = true, converter = Converters.Rel.class, paramLabel = "SPC/DB/REL[/FORK]",
            description = "FORK is main, fsm, vm or init (or 0..3); or an SLRU directory: pg_xact, "
                + "pg_multixact/offsets, pg_multixact/members, pg_commit_ts (block = SLRU page)")
        RelTag rel;
    }

    @Command(name = "getpage", mixinStandardHelpOptions = true,
        description = "Block N of a relation as of an LSN, as hex (16 bytes a line) or into a file.")
    static final class GetPage extends OfRelation {
        @Option(names = "--blkno", required = true, converter = Converters.Oid.class, description = "block number")
        int blkno;
        @Option(names = "--out", description = "write the 8192 bytes to this file instead")
        Path outFile;

        @Override
        void run(PageClient client, Lsn at, boolean latest, PrintWriter out) throws Exception {
            byte[] page = client.getPage(rel, blkno, at, latest);
            if (outFile != null) {
                Files.write(outFile, page);
                return;
            }
            HexFormat hex = HexFormat.of();
            for (int off = 0; off < page.length; off += 16) {
                out.printf("%04x  %s%n", off, hex.formatHex(page, off, off + 16));
            }
        }
    }

    @Command(name = "nblocks", mixinStandardHelpOptions = true, description = "The number of blocks of a relation fork.")
    static final class Nblocks extends OfRelation {
        @Override
        void run(PageClient client, Lsn at, boolean latest, PrintWriter out) throws Exception {
            out.println(Integer.toUnsignedString(client.nblocks(rel, at, latest)));
        }
    }

    @Command(name = "exists", mixinStandardHelpOptions = true, description = "Whether a relation fork exists.")
    static final class Exists extends OfRelation {
        @Override
        void run(PageClient client, Lsn at, boolean latest, PrintWriter out) throws Exception {
            out.println(client.exists(rel, at, latest));
        }
    }

    @Command(name = "dbsize", mixinStandardHelpOptions = true, description = "The size of a database in bytes.")
    static final class DbSize extends Base {
        @Option(names = "--db", required = true, converter = Converters.Oid.class, description = "the database's OID")
        int db;

        @Override
        void run(PageClient client, Lsn at, boolean latest, PrintWriter out) throws Exception {
            out.println(client.dbSize(db, at, latest));
        }
    }
}
