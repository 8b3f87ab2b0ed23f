package org.pageserver.server;

import java.util.List;
import java.util.Locale;

/**
 * The commands the pgwire port accepts as simple queries. Parsing is strict: anything else is
 * a syntax error (42601) for that query alone.
 */
public sealed interface ServerCommand {

    /** {@code callmemaybe <libpq conninfo>}: follow that primary (idempotent). */
    record CallMeMaybe(String conninfo) implements ServerCommand {
    }

    /**
     * {@code detach <system_id> [delete]}: stop following that tenant and forget it; with
     * {@code delete}, also remove its data and drop its slot on the primary.
     */
    record Detach(org.pageserver.protocol.SystemId systemId, boolean delete) implements ServerCommand {
    }

    /** {@code status}: one row per tenant. */
    record Status() implements ServerCommand {
    }

    /** {@code pagestream <system_id>}: switch to the GetPage@LSN sub-protocol (CopyBoth). */
    record PageStream(org.pageserver.protocol.SystemId systemId) implements ServerCommand {
    }

    /**
     * {@code relations <system_id> <lsn>|latest}: every relation fork that exists as of that
     * LSN with its size in blocks, one row each: what a file-less compute (the mount
     * subcommand) needs to name and size its relation files, which the pagestream protocol
     * cannot list. {@code lsn} null: the latest.
     */
    record Relations(org.pageserver.protocol.SystemId systemId, org.pageserver.protocol.Lsn lsn)
        implements ServerCommand {
    }

    /**
     * {@code controlfile <system_id> [<lsn>|latest]}: pg_control as a base backup at that LSN
     * holds it, one row per line pg_controldata prints. {@code lsn} null: the latest.
     */
    record ControlFile(org.pageserver.protocol.SystemId systemId, org.pageserver.protocol.Lsn lsn)
        implements ServerCommand {
    }

    /**
     * {@code basebackup <system_id> [<lsn>|latest] [minimal|standby]}: a tar of the data
     * directory as of that LSN (CopyOut). {@code lsn} null: the latest. {@code standby}: the
     * minimal one of a standby that goes on following (BaseBackup's class comment).
     */
    record BaseBackup(org.pageserver.protocol.SystemId systemId, org.pageserver.protocol.Lsn lsn, boolean minimal,
                      boolean standby) implements ServerCommand {
    }

    /**
     * {@code pin <system_id> <lsn>}: holds the tenant's retention horizon at or below {@code lsn}
     * for as long as this connection stays open: what a file-less compute reading as of that LSN
     * keeps while it runs.
     */
    record Pin(org.pageserver.protocol.SystemId systemId, org.pageserver.protocol.Lsn lsn) implements ServerCommand {
    }

    /**
     * {@code SET ...}: drivers send session settings when they connect (pgjdbc:
     * extra_float_digits, application_name); they mean nothing here and are acknowledged.
     */
    record Set() implements ServerCommand {
    }

    /** Thrown for a query that is not a command. */
    final class SyntaxError extends IllegalArgumentException {
        public SyntaxError(String message) {
            super(message);
        }
    }

    static ServerCommand parse(String query) {
        String q = query.strip();
        while (q.endsWith(";")) {
            q = q.substring(0, q.length() - 1).stripTrailing();
        }
        int space = indexOfWhitespace(q);
        String word = (space < 0 ? q : q.substring(0, space)).toLowerCase(Locale.ROOT);
        String rest = space < 0 ? "" : q.substring(space).strip();
        switch (word) {
            case "status":
                if (!rest.isEmpty()) {
                    throw new SyntaxError("status takes no arguments");
                }
                return new Status();
            case "callmemaybe":
                if (rest.isEmpty()) {
                    throw new SyntaxError("usage: callmemaybe <libpq connection string>");
                }
                if (rest.length() >= 2 && rest.startsWith("'") && rest.endsWith("'")) {
                    rest = rest.substring(1, rest.length() - 1).replace("''", "'");
                }
                return new CallMeMaybe(rest);
            case "set":
                return new Set();
            case "pagestream":
                try {
                    return new PageStream(org.pageserver.protocol.SystemId.parse(rest));
                } catch (IllegalArgumentException e) {
                    throw new SyntaxError("usage: pagestream <system_id>: " + e.getMessage());
                }
            case "controlfile":
                return controlFile(rest);
            case "basebackup":
                return baseBackup(rest);
            case "relations":
                return relations(rest);
            case "detach":
                return detach(rest);
            case "pin":
                return pin(rest);
            default:
                throw new SyntaxError("unknown command \"" + abbreviate(word)
                    + "\"; this is a pageserver: try status, callmemaybe <conninfo>, pagestream <system_id>,"
                    + " basebackup <system_id> [<lsn>|latest] [minimal|standby], controlfile <system_id> [<lsn>]"
                    + ", relations <system_id> <lsn>, pin <system_id> <lsn> or detach <system_id> [delete]");
        }
    }

    private static Detach detach(String rest) {
        String usage = "usage: detach <system_id> [delete]";
        String[] args = rest.isEmpty() ? new String[0] : rest.split("\\s+");
        if (args.length < 1 || args.length > 2 || (args.length == 2 && !args[1].equalsIgnoreCase("delete"))) {
            throw new SyntaxError(usage);
        }
        try {
            return new Detach(org.pageserver.protocol.SystemId.parse(args[0]), args.length == 2);
        } catch (IllegalArgumentException e) {
            throw new SyntaxError(usage + ": " + e.getMessage());
        }
    }

    private static Pin pin(String rest) {
        String usage = "usage: pin <system_id> <lsn>";
        String[] args = rest.isEmpty() ? new String[0] : rest.split("\\s+");
        if (args.length != 2) {
            throw new SyntaxError(usage);
        }
        try {
            return new Pin(org.pageserver.protocol.SystemId.parse(args[0]), org.pageserver.protocol.Lsn.parse(args[1]));
        } catch (IllegalArgumentException e) {
            throw new SyntaxError(usage + ": " + e.getMessage());
        }
    }

    private static Relations relations(String rest) {
        String usage = "usage: relations <system_id> <lsn>|latest";
        String[] args = rest.isEmpty() ? new String[0] : rest.split("\\s+");
        if (args.length != 2) {
            throw new SyntaxError(usage);
        }
        try {
            org.pageserver.protocol.SystemId id = org.pageserver.protocol.SystemId.parse(args[0]);
            return new Relations(id, args[1].equalsIgnoreCase("latest") ? null
                : org.pageserver.protocol.Lsn.parse(args[1]));
        } catch (IllegalArgumentException e) {
            throw new SyntaxError(usage + ": " + e.getMessage());
        }
    }

    private static ControlFile controlFile(String rest) {
        String[] args = rest.isEmpty() ? new String[0] : rest.split("\\s+");
        if (args.length < 1 || args.length > 2) {
            throw new SyntaxError("usage: controlfile <system_id> [<lsn>|latest]");
        }
        org.pageserver.protocol.SystemId id;
        try {
            id = org.pageserver.protocol.SystemId.parse(args[0]);
        } catch (IllegalArgumentException e) {
            throw new SyntaxError("usage: controlfile <system_id> [<lsn>|latest]: " + e.getMessage());
        }
        return new ControlFile(id, args.length == 2 ? org.pageserver.backup.BaseBackup.parseLsn(args[1]) : null);
    }

    static final String BASEBACKUP_USAGE = "usage: basebackup <system_id> [<lsn>|latest] [minimal|standby]";

    private static BaseBackup baseBackup(String rest) {
        List<String> args = new java.util.ArrayList<>(rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
        String form = args.isEmpty() ? "" : args.get(args.size() - 1).toLowerCase(Locale.ROOT);
        boolean standby = form.equals("standby");
        boolean minimal = standby || form.equals("minimal");
        if (minimal) {
            args.remove(args.size() - 1);
        }
        if (args.isEmpty() || args.size() > 2) {
            throw new SyntaxError(BASEBACKUP_USAGE);
        }
        org.pageserver.protocol.SystemId id;
        try {
            id = org.pageserver.protocol.SystemId.parse(args.get(0));
        } catch (IllegalArgumentException e) {
            throw new SyntaxError(BASEBACKUP_USAGE + ": " + e.getMessage());
        }
        return new BaseBackup(id, args.size() == 2 ? org.pageserver.backup.BaseBackup.parseLsn(args.get(1)) : null,
            minimal, standby);
    }

    private static int indexOfWhitespace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isWhitespace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
