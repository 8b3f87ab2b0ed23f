package org.pageserver.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

/**
 * The command-line client in the same jar: {@code java -jar target/pageserver.jar <command>}.
 * Exit status 0 on success, 1 when the server answered with an error, 2 on bad usage.
 */
public final class Cli {
    private Cli() {
    }

    static final String USAGE = """
        usage: java -jar pageserver.jar [COMMAND] [OPTIONS]
          (no command)                 run the pageserver
          status                       one line per tenant
          callmemaybe CONNINFO         follow the primary at CONNINFO (libpq connection string)
          getpage  --system-id ID --rel SPC/DB/REL[/FORK] --blkno N (--lsn X/Y | --latest) [--out FILE]
          nblocks  --system-id ID --rel SPC/DB/REL[/FORK] (--lsn X/Y | --latest)
          exists   --system-id ID --rel SPC/DB/REL[/FORK] (--lsn X/Y | --latest)
          dbsize   --system-id ID --db DBOID (--lsn X/Y | --latest)
          scram-secret PASSWORD        print a SCRAM-SHA-256 secret for pageserver.auth.users
        connection options: --host H (127.0.0.1) --port P (6400) --user U (postgres) --password PW ($PGPASSWORD)
        FORK is main, fsm, vm or init (or 0..3). --lsn with --latest means "at least this LSN".
        --rel also takes an SLRU directory, block = SLRU page: pg_xact, pg_multixact/offsets,
        pg_multixact/members, pg_commit_ts (the pseudo-relations 0/0/1 to 0/0/4).
        getpage prints the page as hex (16 bytes a line) unless --out writes it to FILE.
        """;

    /** Runs one command; returns the process exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("help")) {
            out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        try {
            Options o = Options.parse(args);
            return switch (o.command) {
                case "status" -> query(o, "status", out);
                case "callmemaybe" -> {
                    if (o.positional.size() != 1) {
                        throw new UsageException("callmemaybe takes one argument: the conninfo (quote it)");
                    }
                    yield query(o, "callmemaybe " + o.positional.get(0), out);
                }
                case "getpage", "nblocks", "exists", "dbsize" -> pagestream(o, out);
                case "scram-secret" -> {
                    if (o.positional.size() != 1) {
                        throw new UsageException("scram-secret takes one argument: the password");
                    }
                    out.println(org.pageserver.protocol.pgwire.Scram.Secret.build(o.positional.get(0)));
                    yield 0;
                }
                default -> throw new UsageException("unknown command \"" + o.command + "\"");
            };
        } catch (UsageException e) {
            err.println("error: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (SQLException e) {
            err.println("error: " + e.getMessage());
            return 1;
        } catch (Exception e) {
            err.println("error: " + e);
            return 1;
        }
    }

    private static int query(Options o, String sql, PrintStream out) throws SQLException {
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
        return 0;
    }

    private static int pagestream(Options o, PrintStream out) throws Exception {
        SystemId id = SystemId.parse(o.require("system-id"));
        boolean latest = o.flags.containsKey("latest");
        Lsn lsn = o.flags.containsKey("lsn") ? Lsn.parse(o.require("lsn")) : null;
        if (lsn == null) {
            if (!latest) {
                throw new UsageException("give --lsn X/Y, --latest, or both");
            }
            lsn = new Lsn(1);
        }
        try (PageClient client = PageClient.connect(o.url(), o.user(), o.password(), id)) {
            switch (o.command) {
                case "getpage" -> {
                    byte[] page = client.getPage(rel(o.require("rel")), blkno(o.require("blkno")), lsn, latest);
                    if (o.flags.containsKey("out")) {
                        Files.write(Path.of(o.require("out")), page);
                    } else {
                        HexFormat hex = HexFormat.of();
                        for (int off = 0; off < page.length; off += 16) {
                            out.printf("%04x  %s%n", off, hex.formatHex(page, off, off + 16));
                        }
                    }
                }
                case "nblocks" -> out.println(client.nblocks(rel(o.require("rel")), lsn, latest));
                case "exists" -> out.println(client.exists(rel(o.require("rel")), lsn, latest));
                default -> out.println(client.dbSize(oid(o.require("db")), lsn, latest));
            }
        }
        return 0;
    }

    static RelTag rel(String s) {
        for (org.pageserver.protocol.SlruKind k : org.pageserver.protocol.SlruKind.values()) {
            if (k.dir.equals(s)) {
                return k.rel(); // an SLRU by its directory: pg_xact is 0/0/1, ...
            }
        }
        String[] p = s.split("/");
        if (p.length < 3 || p.length > 4) {
            throw new UsageException("--rel must be SPC/DB/REL[/FORK], got \"" + s + "\"");
        }
        ForkNumber fork = ForkNumber.MAIN;
        if (p.length == 4) {
            fork = switch (p[3]) {
                case "main", "0" -> ForkNumber.MAIN;
                case "fsm", "1" -> ForkNumber.FSM;
                case "vm", "2" -> ForkNumber.VISIBILITYMAP;
                case "init", "3" -> ForkNumber.INIT;
                default -> throw new UsageException("unknown fork \"" + p[3] + "\"");
            };
        }
        return new RelTag(oid(p[0]), oid(p[1]), oid(p[2]), fork);
    }

    static int oid(String s) {
        try {
            long v = Long.parseLong(s);
            if (v < 0 || v > 0xFFFFFFFFL) {
                throw new NumberFormatException();
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw new UsageException("\"" + s + "\" is not an oid");
        }
    }

    static int blkno(String s) {
        return oid(s);
    }

    static final class UsageException extends IllegalArgumentException {
        UsageException(String m) {
            super(m);
        }
    }

    /** {@code command [positional...] --key value --flag}. */
    static final class Options {
        String command;
        final List<String> positional = new java.util.ArrayList<>();
        final Map<String, String> flags = new HashMap<>();

        static Options parse(String[] args) {
            Options o = new Options();
            o.command = args[0];
            for (int i = 1; i < args.length; i++) {
                String a = args[i];
                if (a.startsWith("--")) {
                    String key = a.substring(2);
                    if (key.equals("latest") || key.equals("hex")) {
                        o.flags.put(key, "");
                    } else {
                        if (i + 1 >= args.length) {
                            throw new UsageException("--" + key + " needs a value");
                        }
                        o.flags.put(key, args[++i]);
                    }
                } else {
                    o.positional.add(a);
                }
            }
            return o;
        }

        String require(String key) {
            String v = flags.get(key);
            if (v == null) {
                throw new UsageException("--" + key + " is required for " + command);
            }
            return v;
        }

        String url() {
            return "jdbc:postgresql://" + flags.getOrDefault("host", "127.0.0.1") + ":"
                + flags.getOrDefault("port", "6400") + "/postgres";
        }

        String user() {
            return flags.getOrDefault("user", "postgres");
        }

        String password() {
            String p = flags.get("password");
            return p != null ? p : System.getenv("PGPASSWORD");
        }

        Properties properties() {
            Properties p = new Properties();
            p.setProperty("user", user());
            if (password() != null) {
                p.setProperty("password", password());
            }
            p.setProperty("preferQueryMode", "simple");
            p.setProperty("assumeMinServerVersion", "15");
            p.setProperty("ApplicationName", "pageserver-cli");
            return p;
        }
    }
}
