package org.pageserver.protocol.replication;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;

/**
 * Reads a replication command as PostgreSQL 15's walsender does: the tokens of repl_scanner.l
 * (upper-case keywords, identifiers down-cased and cut to 63 bytes, "quoted identifiers",
 * 'strings' with '' for a quote, unsigned integers, X/X locations; the longest match wins) and
 * the grammar of repl_gram.y. Anything else is a syntax error (42601) naming where it failed.
 */
public final class ReplicationCommandParser {

    /** NAMEDATALEN - 1. */
    private static final int MAX_IDENTIFIER_BYTES = 63;

    private static final Set<String> KEYWORDS = Set.of("BASE_BACKUP", "IDENTIFY_SYSTEM", "READ_REPLICATION_SLOT",
        "SHOW", "TIMELINE", "START_REPLICATION", "CREATE_REPLICATION_SLOT", "DROP_REPLICATION_SLOT",
        "TIMELINE_HISTORY", "PHYSICAL", "RESERVE_WAL", "LOGICAL", "SLOT", "TEMPORARY", "TWO_PHASE",
        "EXPORT_SNAPSHOT", "NOEXPORT_SNAPSHOT", "USE_SNAPSHOT", "WAIT");

    /** The keywords a replication command starts with (replication_scanner_is_replication_command). */
    private static final Set<String> COMMANDS = Set.of("IDENTIFY_SYSTEM", "BASE_BACKUP", "START_REPLICATION",
        "CREATE_REPLICATION_SLOT", "DROP_REPLICATION_SLOT", "READ_REPLICATION_SLOT", "TIMELINE_HISTORY", "SHOW");

    private enum Kind { KEYWORD, IDENT, SCONST, UCONST, RECPTR, CHAR, END }

    /** A token: its kind, its value (text, number or location) and the input it was read from. */
    private record Token(Kind kind, String text, long number, Lsn lsn, String source) {
        Token(Kind kind, String text, long number, Lsn lsn) {
            this(kind, text, number, lsn, text);
        }

        Token from(String input) {
            return new Token(kind, text, number, lsn, input);
        }

        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }
    }

    private final String in;
    private int pos;
    private Token token;

    private ReplicationCommandParser(String in) {
        this.in = in;
        this.token = scan();
    }

    /**
     * True if the query starts with the keyword of a replication command; a walsender takes
     * anything else for SQL.
     */
    public static boolean isReplicationCommand(String query) {
        try {
            Token first = new ReplicationCommandParser(query).token;
            return first.kind() == Kind.KEYWORD && COMMANDS.contains(first.text());
        } catch (PgProtocolException e) {
            return false;
        }
    }

    /** Parses one command, optionally followed by a semicolon. */
    public static ReplicationCommand parse(String query) {
        ReplicationCommandParser p = new ReplicationCommandParser(query);
        ReplicationCommand c = p.command();
        if (p.token.is(Kind.CHAR, ";")) {
            p.advance();
        }
        if (p.token.kind() != Kind.END) {
            throw p.error();
        }
        return c;
    }

    // ------------------------------------------------------------ grammar

    private ReplicationCommand command() {
        if (token.kind() != Kind.KEYWORD || !COMMANDS.contains(token.text())) {
            throw error();
        }
        String k = advance().text();
        switch (k) {
            case "IDENTIFY_SYSTEM":
                return new ReplicationCommand.IdentifySystem();
            case "SHOW":
                return new ReplicationCommand.Show(varName());
            case "READ_REPLICATION_SLOT":
                return new ReplicationCommand.ReadReplicationSlot(varName());
            case "TIMELINE_HISTORY":
                return new ReplicationCommand.TimelineHistory(timeline());
            case "BASE_BACKUP":
                return new ReplicationCommand.BaseBackup(BaseBackupOptions.of(
                    token.is(Kind.CHAR, "(") ? genericOptions() : List.of()));
            case "CREATE_REPLICATION_SLOT":
                return createSlot();
            case "DROP_REPLICATION_SLOT": {
                String slot = ident();
                boolean await = token.is(Kind.KEYWORD, "WAIT");
                if (await) {
                    advance();
                }
                return new ReplicationCommand.DropReplicationSlot(slot, await);
            }
            default:
                return startReplication();
        }
    }

    /** var_name: IDENT ['.' IDENT]... */
    private String varName() {
        StringBuilder name = new StringBuilder(ident());
        while (token.is(Kind.CHAR, ".")) {
            advance();
            name.append('.').append(ident());
        }
        return name.toString();
    }

    private long timeline() {
        long t = expect(Kind.UCONST).number();
        if (t <= 0) {
            throw new PgProtocolException(SqlState.SYNTAX_ERROR, "invalid timeline " + t);
        }
        return t;
    }

    private ReplicationCommand startReplication() {
        String slot = null;
        if (token.is(Kind.KEYWORD, "SLOT")) {
            advance();
            slot = ident();
        }
        if (slot != null && token.is(Kind.KEYWORD, "LOGICAL")) {
            advance();
            Lsn start = expect(Kind.RECPTR).lsn();
            List<ReplicationCommand.Option> options = new ArrayList<>();
            if (token.is(Kind.CHAR, "(")) {
                advance();
                do {
                    String name = ident();
                    String value = token.kind() == Kind.SCONST ? advance().text() : null;
                    options.add(new ReplicationCommand.Option(name, value));
                } while (acceptComma());
                expectChar(")");
            }
            return new ReplicationCommand.StartReplication(slot, true, start, 0, options);
        }
        if (token.is(Kind.KEYWORD, "PHYSICAL")) {
            advance();
        }
        Lsn start = expect(Kind.RECPTR).lsn();
        long timeline = 0;
        if (token.is(Kind.KEYWORD, "TIMELINE")) {
            advance();
            timeline = timeline();
        }
        return new ReplicationCommand.StartReplication(slot, false, start, timeline, List.of());
    }

    private ReplicationCommand createSlot() {
        String slot = ident();
        boolean temporary = token.is(Kind.KEYWORD, "TEMPORARY");
        if (temporary) {
            advance();
        }
        boolean logical;
        String plugin = null;
        if (token.is(Kind.KEYWORD, "PHYSICAL")) {
            advance();
            logical = false;
        } else if (token.is(Kind.KEYWORD, "LOGICAL")) {
            advance();
            logical = true;
            plugin = ident();
        } else {
            throw error();
        }
        List<ReplicationCommand.Option> options = new ArrayList<>();
        if (token.is(Kind.CHAR, "(")) {
            options = genericOptions();
        } else {
            while (token.kind() == Kind.KEYWORD) {
                switch (token.text()) {
                    case "EXPORT_SNAPSHOT" -> options.add(new ReplicationCommand.Option("snapshot", "export"));
                    case "NOEXPORT_SNAPSHOT" -> options.add(new ReplicationCommand.Option("snapshot", "nothing"));
                    case "USE_SNAPSHOT" -> options.add(new ReplicationCommand.Option("snapshot", "use"));
                    case "RESERVE_WAL" -> options.add(new ReplicationCommand.Option("reserve_wal", "true"));
                    case "TWO_PHASE" -> options.add(new ReplicationCommand.Option("two_phase", "true"));
                    default -> throw error();
                }
                advance();
            }
        }
        return new ReplicationCommand.CreateReplicationSlot(slot, temporary, logical, plugin, options);
    }

    /** '(' generic_option [, ...] ')': a name (identifier or keyword) and an optional value. */
    private List<ReplicationCommand.Option> genericOptions() {
        expectChar("(");
        List<ReplicationCommand.Option> options = new ArrayList<>();
        do {
            String name;
            if (token.kind() == Kind.IDENT) {
                name = advance().text();
            } else if (token.kind() == Kind.KEYWORD) {
                name = advance().text().toLowerCase(Locale.ROOT);
            } else {
                throw error();
            }
            String value = null;
            if (token.kind() == Kind.IDENT || token.kind() == Kind.SCONST) {
                value = advance().text();
            } else if (token.kind() == Kind.UCONST) {
                value = Long.toString(advance().number());
            }
            options.add(new ReplicationCommand.Option(name, value));
        } while (acceptComma());
        expectChar(")");
        return options;
    }

    private boolean acceptComma() {
        if (token.is(Kind.CHAR, ",")) {
            advance();
            return true;
        }
        return false;
    }

    private String ident() {
        return expect(Kind.IDENT).text();
    }

    private Token expect(Kind kind) {
        if (token.kind() != kind) {
            throw error();
        }
        return advance();
    }

    private void expectChar(String c) {
        if (!token.is(Kind.CHAR, c)) {
            throw error();
        }
        advance();
    }

    private Token advance() {
        Token t = token;
        token = scan();
        return t;
    }

    private Token scan() {
        while (pos < in.length() && " \t\n\r\f".indexOf(in.charAt(pos)) >= 0) {
            pos++;
        }
        int start = pos;
        return scanToken().from(in.substring(start, pos));
    }

    private PgProtocolException error() {
        return new PgProtocolException(SqlState.SYNTAX_ERROR,
            token.kind() == Kind.END ? "syntax error at end of input"
                : "syntax error at or near \"" + token.source() + "\"");
    }

    // ------------------------------------------------------------ scanner

    private Token scanToken() {
        if (pos >= in.length()) {
            return new Token(Kind.END, "", 0, null);
        }
        char c = in.charAt(pos);
        if (c == '\'') {
            return quoted();
        }
        if (c == '"') {
            int end = in.indexOf('"', pos + 1);
            if (end < 0) {
                throw new PgProtocolException(SqlState.SYNTAX_ERROR, "unterminated quoted string");
            }
            String name = truncate(in.substring(pos + 1, end));
            pos = end + 1;
            return new Token(Kind.IDENT, name, 0, null);
        }
        int identLen = identStart(c) ? run(pos + 1, ReplicationCommandParser::identCont) + 1 : 0;
        int digits = run(pos, ch -> ch >= '0' && ch <= '9');
        int hex = run(pos, ReplicationCommandParser::hexDigit);
        int hex2 = hex > 0 && pos + hex < in.length() && in.charAt(pos + hex) == '/'
            ? run(pos + hex + 1, ReplicationCommandParser::hexDigit) : 0;
        int recptrLen = hex2 > 0 ? hex + 1 + hex2 : 0;
        if (recptrLen > 0 && recptrLen >= identLen) {
            String text = in.substring(pos, pos + recptrLen);
            pos += recptrLen;
            if (hex > 8 || hex2 > 8) {
                throw new PgProtocolException(SqlState.SYNTAX_ERROR, "invalid streaming start location \"" + text + "\"");
            }
            return new Token(Kind.RECPTR, text, 0, Lsn.parse(text));
        }
        if (digits > 0) {
            String text = in.substring(pos, pos + digits);
            pos += digits;
            long v;
            try {
                v = Long.parseLong(text);
            } catch (NumberFormatException e) {
                v = -1;
            }
            if (v < 0 || v > 0xFFFFFFFFL) {
                throw new PgProtocolException(SqlState.SYNTAX_ERROR, "integer " + text + " is out of range");
            }
            return new Token(Kind.UCONST, text, v, null);
        }
        if (identLen > 0) {
            String text = in.substring(pos, pos + identLen);
            pos += identLen;
            if (KEYWORDS.contains(text)) {
                return new Token(Kind.KEYWORD, text, 0, null);
            }
            return new Token(Kind.IDENT, truncate(downcase(text)), 0, null);
        }
        pos++;
        return new Token(Kind.CHAR, String.valueOf(c), 0, null);
    }

    /** 'string', '' standing for one quote. */
    private Token quoted() {
        StringBuilder s = new StringBuilder();
        int i = pos + 1;
        while (true) {
            int q = in.indexOf('\'', i);
            if (q < 0) {
                throw new PgProtocolException(SqlState.SYNTAX_ERROR, "unterminated quoted string");
            }
            s.append(in, i, q);
            if (q + 1 < in.length() && in.charAt(q + 1) == '\'') {
                s.append('\'');
                i = q + 2;
            } else {
                pos = q + 1;
                return new Token(Kind.SCONST, s.toString(), 0, null);
            }
        }
    }

    private interface CharClass {
        boolean has(char c);
    }

    private int run(int from, CharClass cls) {
        int i = from;
        while (i < in.length() && cls.has(in.charAt(i))) {
            i++;
        }
        return i - from;
    }

    /** [A-Za-z\200-\377_]: every non-ASCII character, as the bytes of its UTF-8 form are. */
    private static boolean identStart(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
    }

    private static boolean identCont(char c) {
        return identStart(c) || (c >= '0' && c <= '9') || c == '$';
    }

    private static boolean hexDigit(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
    }

    /** downcase_identifier: ASCII letters only (multibyte encodings are left alone). */
    private static String downcase(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c);
        }
        return b.toString();
    }

    /** truncate_identifier: at most 63 bytes of UTF-8, cut at a character boundary. */
    private static String truncate(String s) {
        if (s.getBytes(StandardCharsets.UTF_8).length <= MAX_IDENTIFIER_BYTES) {
            return s;
        }
        int bytes = 0;
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > MAX_IDENTIFIER_BYTES) {
                break;
            }
            bytes += n;
            i += Character.charCount(cp);
        }
        return s.substring(0, i);
    }
}
