package org.pageserver.protocol.pgwire;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ArrayList;

/**
 * Two startup parameters as PostgreSQL reads them: {@code replication} (ProcessStartupPacket,
 * postmaster.c) and {@code options}, the command-line switches that libpq's PGOPTIONS sends
 * (pg_split_opts, then process_postgres_switches' {@code -c name=value} and
 * {@code --name=value}).
 */
public final class StartupOptions {

    /** What the {@code replication} parameter asks for. */
    public enum Replication {
        /** A normal session (no parameter, or false). */
        NONE,
        /** replication=true: a physical walsender, replication commands only. */
        PHYSICAL,
        /** replication=database: a walsender connected to a database, which also takes SQL. */
        DATABASE
    }

    private StartupOptions() {
    }

    /** The {@code replication} parameter (null: not given); anything else is FATAL 22023, as in PostgreSQL. */
    public static Replication replication(String value) {
        if (value == null) {
            return Replication.NONE;
        }
        if (value.equals("database")) {
            return Replication.DATABASE;
        }
        Boolean b = parseBool(value);
        if (b == null) {
            throw new PgProtocolException(SqlState.INVALID_PARAMETER_VALUE,
                "invalid value for parameter \"replication\": \"" + value
                    + "\" (valid values are: \"false\", 0, \"true\", 1, \"database\")");
        }
        return b ? Replication.PHYSICAL : Replication.NONE;
    }

    /**
     * parse_bool: a prefix of true, false, yes or no (any case), on, off (at least "of"), 1 or
     * 0; null for anything else.
     */
    public static Boolean parseBool(String value) {
        String v = value.toLowerCase(Locale.ROOT);
        if (v.isEmpty()) {
            return null;
        }
        if ("true".startsWith(v) || "yes".startsWith(v) || v.equals("on") || v.equals("1")) {
            return true;
        }
        if ("false".startsWith(v) || "no".startsWith(v) || (v.length() >= 2 && "off".startsWith(v)) || v.equals("0")) {
            return false;
        }
        return null;
    }

    /**
     * The settings of an {@code options} parameter: words split at unescaped white space (a
     * backslash escapes the next character), then {@code -c name=value}, {@code -cname=value}
     * or {@code --name=value}; a '-' in a name is read as '_'. The last setting of a name wins.
     * Other switches and a setting without '=' are refused (22023, 42601) with the word named.
     */
    public static Map<String, String> settings(String options) {
        Map<String, String> settings = new LinkedHashMap<>();
        if (options == null) {
            return settings;
        }
        List<String> words = split(options);
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            String setting;
            String shown;
            if (w.startsWith("--") && w.length() > 2) {
                setting = w.substring(2);
                shown = "--" + setting;
            } else if (w.startsWith("-c")) {
                if (w.length() > 2) {
                    setting = w.substring(2);
                } else if (i + 1 < words.size()) {
                    setting = words.get(++i);
                } else {
                    throw new PgProtocolException(SqlState.SYNTAX_ERROR, "option requires an argument -- 'c'");
                }
                shown = "-c " + setting;
            } else {
                throw new PgProtocolException(SqlState.INVALID_PARAMETER_VALUE,
                    "invalid command-line argument for server process: " + w
                        + " (the pageserver takes only -c name=value and --name=value)");
            }
            int eq = setting.indexOf('=');
            if (eq < 0) {
                throw new PgProtocolException(SqlState.SYNTAX_ERROR, shown + " requires a value");
            }
            settings.put(setting.substring(0, eq).replace('-', '_'), setting.substring(eq + 1));
        }
        return settings;
    }

    /** pg_split_opts. */
    static List<String> split(String options) {
        List<String> words = new ArrayList<>();
        int i = 0;
        int n = options.length();
        while (i < n) {
            while (i < n && Character.isWhitespace(options.charAt(i))) {
                i++;
            }
            if (i >= n) {
                break;
            }
            StringBuilder w = new StringBuilder();
            boolean escaped = false;
            while (i < n) {
                char c = options.charAt(i);
                if (Character.isWhitespace(c) && !escaped) {
                    break;
                }
                if (!escaped && c == '\\') {
                    escaped = true;
                } else {
                    escaped = false;
                    w.append(c);
                }
                i++;
            }
            words.add(w.toString());
        }
        return words;
    }
}
