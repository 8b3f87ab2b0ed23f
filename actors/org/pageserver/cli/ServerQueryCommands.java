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
