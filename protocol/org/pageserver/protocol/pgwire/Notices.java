package org.pageserver.protocol.pgwire;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.pageserver.protocol.pgwire.BackendMessage.PG_DIAG_MESSAGE_PRIMARY;
import static org.pageserver.protocol.pgwire.BackendMessage.PG_DIAG_SEVERITY;
import static org.pageserver.protocol.pgwire.BackendMessage.PG_DIAG_SEVERITY_NONLOCALIZED;
import static org.pageserver.protocol.pgwire.BackendMessage.PG_DIAG_SQLSTATE;

/** Shared layout of ErrorResponse and NoticeResponse. */
final class Notices {
    private Notices() {
    }

    static Map<Character, String> basic(String severity, String sqlState, String message) {
        Map<Character, String> f = new LinkedHashMap<>();
        f.put(PG_DIAG_SEVERITY, severity);
        f.put(PG_DIAG_SEVERITY_NONLOCALIZED, severity);
        f.put(PG_DIAG_SQLSTATE, SqlState.requireValid(sqlState));
        f.put(PG_DIAG_MESSAGE_PRIMARY, message);
        return f;
    }

    static Map<Character, String> with(Map<Character, String> fields, char field, String value) {
        Map<Character, String> f = new LinkedHashMap<>(fields);
        f.put(field, value);
        return f;
    }

    static Map<Character, String> parse(byte[] body, String what) {
        PgReader r = new PgReader(body, what);
        Map<Character, String> f = new LinkedHashMap<>();
        while (true) {
            int code = r.readByte();
            if (code == 0) {
                break;
            }
            f.put((char) code, r.readCString());
        }
        r.end();
        return f;
    }

    static void write(PgWriter out, byte type, Map<Character, String> fields) {
        out.beginMessage(type);
        for (Map.Entry<Character, String> e : fields.entrySet()) {
            char c = e.getKey();
            // a field code is one byte; parse takes any non-zero byte (libpq does too), so
            // write must be able to send every message parse returns
            if (c == 0 || c > 0xFF) {
                throw new IllegalArgumentException("invalid error field code " + (int) c);
            }
            // A NUL inside a message would truncate it on the wire; replace rather than fail.
            out.writeByte(c).writeCString(e.getValue().replace('\0', ' '));
        }
        out.writeByte(0).endMessage();
    }
}

