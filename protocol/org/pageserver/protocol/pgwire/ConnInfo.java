package org.pageserver.protocol.pgwire;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A libpq connection string (conninfo), in either form libpq accepts (fe-connect.c):
 * <ul>
 *   <li>keyword/value: {@code host=127.0.0.1 port=5432 user=postgres password='a b\'c'} --
 *       whitespace separated, spaces allowed around '=', values optionally single-quoted; a
 *       backslash escapes the next character, inside and outside quotes (conninfo_parse);</li>
 *   <li>URI: {@code postgresql://user:pass@host:port,host2:port2/dbname?param=value&...}, also
 *       {@code postgres://}; user, password, host, port, dbname, keys and values percent-decoded,
 *       IPv6 hosts in brackets, {@code ssl=true} meaning {@code sslmode=require}
 *       (conninfo_uri_parse_options).</li>
 * </ul>
 * Unknown keywords are refused as libpq refuses them. {@link #toString()} never shows the
 * password; {@link #toConnString()} gives a keyword/value string that parses back to an equal
 * ConnInfo. Parse errors are IllegalArgumentExceptions with libpq's wording.
 */
public final class ConnInfo {

    public static final int DEFAULT_PORT = 5432;

    /** libpq's keywords (PQconninfoOptions of PG15, plus PG16's and PG17's additions). */
    public static final Set<String> KEYWORDS = Collections.unmodifiableSet(new LinkedHashSet<>(List.of(
            "service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname", "host",
            "hostaddr", "port", "client_encoding", "options", "application_name", "fallback_application_name",
            "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
            "sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
            "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode",
            "krbsrvname", "gsslib", "replication", "target_session_attrs",
            // PG16
            "require_auth", "sslcertmode", "load_balance_hosts",
            // PG17
            "sslnegotiation")));

    private final Map<String, String> params;

    private ConnInfo(Map<String, String> params) {
        this.params = Collections.unmodifiableMap(params);
    }

    /** A ConnInfo from keyword/value pairs (keywords checked, order kept). */
    public static ConnInfo of(Map<String, String> params) {
        Map<String, String> p = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : params.entrySet()) {
            checkKeyword(e.getKey());
            if (e.getValue() == null) {
                throw new IllegalArgumentException("null value for connection option \"" + e.getKey() + "\"");
            }
            p.put(e.getKey(), e.getValue());
        }
        return new ConnInfo(p);
    }

    private static void checkKeyword(String k) {
        if (!KEYWORDS.contains(k)) {
            throw new IllegalArgumentException("invalid connection option \"" + k + "\"");
        }
    }

    /** Parses either form; a string starting with postgresql:// or postgres:// is a URI. */
    public static ConnInfo parse(String conninfo) {
        if (conninfo == null) {
            throw new IllegalArgumentException("connection string is null");
        }
        if (conninfo.startsWith("postgresql://")) {
            return parseUri(conninfo, "postgresql://".length());
        }
        if (conninfo.startsWith("postgres://")) {
            return parseUri(conninfo, "postgres://".length());
        }
        return parseKeywordValue(conninfo);
    }

    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0x0B;
    }

    /** conninfo_parse. */
    private static ConnInfo parseKeywordValue(String s) {
        Map<String, String> p = new LinkedHashMap<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            if (isSpace(s.charAt(i))) {
                i++;
                continue;
            }
            int nameStart = i;
            while (i < n && s.charAt(i) != '=' && !isSpace(s.charAt(i))) {
                i++;
            }
            String name = s.substring(nameStart, i);
            while (i < n && isSpace(s.charAt(i))) {
                i++;
            }
            if (i >= n || s.charAt(i) != '=') {
                throw new IllegalArgumentException("missing \"=\" after \"" + name + "\" in connection info string");
            }
            i++;
            while (i < n && isSpace(s.charAt(i))) {
                i++;
            }
            StringBuilder v = new StringBuilder();
            if (i < n && s.charAt(i) == '\'') {
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("unterminated quoted string in connection info string");
                    }
                    char c = s.charAt(i);
                    if (c == '\\') {
                        i++;
                        if (i < n) {
                            v.append(s.charAt(i++));
                        }
                    } else if (c == '\'') {
                        i++;
                        break;
                    } else {
                        v.append(c);
                        i++;
                    }
                }
            } else {
                while (i < n && !isSpace(s.charAt(i))) {
                    char c = s.charAt(i);
                    if (c == '\\') {
                        i++;
                        if (i < n) {
                            v.append(s.charAt(i++));
                        }
                    } else {
                        v.append(c);
                        i++;
                    }
                }
            }
            checkKeyword(name);
            p.put(name, v.toString());
        }
        return new ConnInfo(p);
    }

    /** conninfo_uri_parse_options. */
    private static ConnInfo parseUri(String uri, int prefixLen) {
        Map<String, String> p = new LinkedHashMap<>();
        int n = uri.length();
        int start = prefixLen;

        // user[:password]@ -- looked for before the first '/' (as libpq does)
        int q = start;
        while (q < n && uri.charAt(q) != '@' && uri.charAt(q) != '/') {
            q++;
        }
        if (q < n && uri.charAt(q) == '@') {
            int u = start;
            while (u < q && uri.charAt(u) != ':') {
                u++;
            }
            String user = uriDecode(uri.substring(start, u));
            if (!user.isEmpty()) {
                p.put("user", user);
            }
            if (u < q) {
                String pw = uriDecode(uri.substring(u + 1, q));
                if (!pw.isEmpty()) {
                    p.put("password", pw);
                }
            }
            start = q + 1;
        }

        // host[:port][,host[:port]]...
        StringBuilder hosts = new StringBuilder();
        StringBuilder ports = new StringBuilder();
        int i = start;
        while (true) {
            if (i < n && uri.charAt(i) == '[') {
                int close = uri.indexOf(']', i + 1);
                if (close < 0) {
                    throw new IllegalArgumentException("end of string reached when looking for matching \"]\""
                            + " in IPv6 host address in URI: \"" + uri + "\"");
                }
                if (close == i + 1) {
                    throw new IllegalArgumentException("IPv6 host address may not be empty in URI: \"" + uri + "\"");
                }
                hosts.append(uri, i + 1, close);
                i = close + 1;
                if (i < n && ":/?,".indexOf(uri.charAt(i)) < 0) {
                    throw new IllegalArgumentException("unexpected character \"" + uri.charAt(i) + "\" at position "
                            + (i + 1) + " in URI (expected \":\" or \"/\"): \"" + uri + "\"");
                }
            } else {
                int h = i;
                while (i < n && ":/?,".indexOf(uri.charAt(i)) < 0) {
                    i++;
                }
                hosts.append(uri, h, i);
            }
            if (i < n && uri.charAt(i) == ':') {
                int ps = ++i;
                while (i < n && "/?,".indexOf(uri.charAt(i)) < 0) {
                    i++;
                }
                ports.append(uri, ps, i);
            }
            if (i < n && uri.charAt(i) == ',') {
                i++;
                hosts.append(',');
                ports.append(',');
                continue;
            }
            break;
        }
        if (hosts.length() > 0) {
            p.put("host", uriDecode(hosts.toString()));
        }
        if (ports.length() > 0) {
            p.put("port", uriDecode(ports.toString()));
        }

        if (i < n && uri.charAt(i) == '/') {
            int ds = ++i;
            while (i < n && uri.charAt(i) != '?') {
                i++;
            }
            String db = uriDecode(uri.substring(ds, i));
            if (!db.isEmpty()) {
                p.put("dbname", db);
            }
        }
        if (i < n && uri.charAt(i) == '?') {
            parseUriParams(uri.substring(i + 1), p);
        } else if (i < n) {
            throw new IllegalArgumentException("unexpected character \"" + uri.charAt(i) + "\" at position " + (i + 1)
                    + " in URI: \"" + uri + "\"");
        }
        return new ConnInfo(p);
    }

    /** conninfo_uri_parse_params. */
    private static void parseUriParams(String params, Map<String, String> p) {
        if (params.isEmpty()) {
            return;
        }
        for (String kv : params.split("&", -1)) {
            int eq = kv.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException(
                        "missing key/value separator \"=\" in URI query parameter: \"" + kv + "\"");
            }
            if (kv.indexOf('=', eq + 1) >= 0) {
                throw new IllegalArgumentException(
                        "extra key/value separator \"=\" in URI query parameter: \"" + kv + "\"");
            }
            String key = uriDecode(kv.substring(0, eq));
            String value = uriDecode(kv.substring(eq + 1));
            if (key.equals("ssl") && value.equals("true")) {
                key = "sslmode";
                value = "require";
            }
            if (!KEYWORDS.contains(key)) {
                throw new IllegalArgumentException("invalid URI query parameter: \"" + key + "\"");
            }
            p.put(key, value);
        }
    }

    /** conninfo_uri_decode: %XX escapes (UTF-8 bytes), %00 forbidden. */
    private static String uriDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            if (b[i] != '%') {
                out.write(b[i]);
                continue;
            }
            int hi = i + 1 < b.length ? Character.digit(b[i + 1], 16) : -1;
            int lo = i + 2 < b.length ? Character.digit(b[i + 2], 16) : -1;
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("invalid percent-encoded token: \"" + s + "\"");
            }
            int v = hi * 16 + lo;
            if (v == 0) {
                throw new IllegalArgumentException("forbidden value %00 in percent-encoded value: \"" + s + "\"");
            }
            out.write(v);
            i += 2;
        }
        return decodeUtf8(out.toByteArray(), s);
    }

    private static String decodeUtf8(byte[] b, String original) {
        try {
            return PgReader.decodeUtf8(b, 0, b.length, "URI");
        } catch (PgProtocolException e) {
            throw new IllegalArgumentException("percent-encoded value is not valid UTF-8: \"" + original + "\"");
        }
    }

    // ------------------------------------------------------------------ accessors

    /** All keyword/value pairs, in the order given. */
    public Map<String, String> params() {
        return params;
    }

    /** The value of {@code keyword}, or null if not set. */
    public String get(String keyword) {
        return params.get(keyword);
    }

    /**
     * The (first) host: {@code host}, else {@code hostaddr}, else "localhost". (libpq would use a
     * Unix-domain socket when neither is set; pageserver always connects over TCP.)
     */
    public String host() {
        List<String> h = hosts();
        return h.isEmpty() ? "localhost" : h.get(0);
    }

    /** Every host of a multi-host string ("a,b"), or hostaddr's; empty if neither is set. */
    public List<String> hosts() {
        String h = params.get("host");
        if (h == null || h.isEmpty()) {
            h = params.get("hostaddr");
        }
        List<String> out = new ArrayList<>();
        if (h != null && !h.isEmpty()) {
            for (String part : h.split(",", -1)) {
                out.add(part.isEmpty() ? "localhost" : part);
            }
        }
        return out;
    }

    /** The (first) port, default 5432; a non-numeric or out-of-range port is an error. */
    public int port() {
        String p = params.get("port");
        if (p == null || p.isEmpty()) {
            return DEFAULT_PORT;
        }
        String first = p.split(",", -1)[0].trim();
        if (first.isEmpty()) {
            return DEFAULT_PORT;
        }
        int v;
        try {
            v = Integer.parseInt(first);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid integer value \"" + first + "\" for connection option \"port\"");
        }
        if (v < 1 || v > 65535) {
            throw new IllegalArgumentException("invalid port number: \"" + first + "\"");
        }
        return v;
    }

    public String user() {
        return params.get("user");
    }

    /** The database; as in libpq it defaults to the user name. */
    public String dbname() {
        String d = params.get("dbname");
        return d == null || d.isEmpty() ? user() : d;
    }

    public String password() {
        return params.get("password");
    }

    public String applicationName() {
        return params.get("application_name");
    }

    /** A copy with {@code keyword} set to {@code value}. */
    public ConnInfo with(String keyword, String value) {
        checkKeyword(keyword);
        if (value == null) {
            throw new IllegalArgumentException("null value for connection option \"" + keyword + "\"");
        }
        Map<String, String> p = new LinkedHashMap<>(params);
        p.put(keyword, value);
        return new ConnInfo(p);
    }

    /** A copy without {@code keyword}. */
    public ConnInfo without(String keyword) {
        Map<String, String> p = new LinkedHashMap<>(params);
        p.remove(keyword);
        return new ConnInfo(p);
    }

    public ConnInfo withoutPassword() {
        return without("password");
    }

    /** A keyword/value string that {@link #parse} turns back into an equal ConnInfo. */
    public String toConnString() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(e.getKey()).append('=').append(quote(e.getValue()));
        }
        return sb.toString();
    }

    private static String quote(String v) {
        boolean needs = v.isEmpty();
        for (int i = 0; i < v.length() && !needs; i++) {
            char c = v.charAt(i);
            needs = isSpace(c) || c == '\'' || c == '\\';
        }
        if (!needs) {
            return v;
        }
        StringBuilder sb = new StringBuilder("'");
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\'' || c == '\\') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.append('\'').toString();
    }

    /** The connection string without the password, safe for logs. */
    @Override
    public String toString() {
        return withoutPassword().toConnString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConnInfo c && c.params.equals(params);
    }

    @Override
    public int hashCode() {
        return params.hashCode();
    }
}
