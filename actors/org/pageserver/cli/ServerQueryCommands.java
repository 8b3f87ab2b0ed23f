package org.pageserver.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The commands that are one query on the pgwire port, printed as a header line and rows separated by |. */
final class ServerQueryCommands {
    private ServerQueryCommands() {
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "One line per tenant.")
    static final class Status implements Callable<Integer> {
        @Mixin
        ConnectionOptions connection;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws SQLException {
            return query(connection, "status", spec.commandLine().getOut());
        }
    }

    @Command(name = "callmemaybe", mixinStandardHelpOptions = true,
        description = "Follow the primary at CONNINFO (a libpq connection string: quote it).")
    static final class CallMeMaybe implements Callable<Integer> {
        @Parameters(paramLabel = "CONNINFO", description = "e.g. \"host=db1 port=5432 user=replicator\"")
        String conninfo;
        @Mixin
        ConnectionOptions connection;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws SQLException {
            return query(connection, "callmemaybe " + conninfo, spec.commandLine().getOut());
        }
    }

    @Command(name = "controlfile", mixinStandardHelpOptions = true,
        description = "pg_control as a base backup at the LSN holds it, as pg_controldata prints it.")
    static final class ControlFile implements Callable<Integer> {
        @Option(names = "--system-id", required = true, converter = Converters.SystemIdValue.class,
            description = "the tenant: its PostgreSQL system identifier")
        org.pageserver.protocol.SystemId systemId;
        @Option(names = "--lsn", converter = Converters.LsnValue.class, description = "as of this LSN (default: the latest)")
        org.pageserver.protocol.Lsn lsn;
        @Mixin
        ConnectionOptions connection;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws SQLException {
            try (Connection c = DriverManager.getConnection(connection.url(), connection.properties());
                 Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("controlfile " + systemId + (lsn == null ? "" : " " + lsn))) {
                PrintWriter out = spec.commandLine().getOut();
                while (rs.next()) {
                    // pg_controldata's own layout: the label, a colon, values aligned at column 39
                    String label = rs.getString(1) + ":";
                    out.println(label + " ".repeat(Math.max(1, 38 - label.length())) + rs.getString(2));
                }
            }
            return Cli.OK;
        }
    }

    static int query(ConnectionOptions o, String sql, PrintWriter out) throws SQLException {
        try (Connection c = DriverManager.getConnection(o.url(), o.properties());
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            StringBuilder header = new StringBuilder();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                header.append(i > 1 ? "|" : "").append(md.getColumnName(i));
            }
            out.println(header);
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    String v = rs.getString(i);
                    row.append(i > 1 ? "|" : "").append(v == null ? "" : v);
                }
                out.println(row);
            }
        }
        return Cli.OK;
    }
}
