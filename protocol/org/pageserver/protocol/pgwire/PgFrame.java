package org.pageserver.protocol.pgwire;

/**
 * One whole protocol message as cut out of the byte stream by {@link PgFrameDecoder}: its type
 * byte and its body (the bytes after the Int32 length, which counts itself but not the type).
 *
 * <pre>
 *   typed message (every message after the startup packet, both directions):
 *   +------+-----------------+----------------------+
 *   | Byte1 type | Int32 len |  body: len - 4 bytes |
 *   +------+-----------------+----------------------+
 *
 *   startup packet (the first thing a client sends; also SSLRequest, GSSENCRequest, CancelRequest):
 *   +-----------+----------------------------------------------+
 *   | Int32 len | body: len - 4 bytes, starting with Int32 code |
 *   +-----------+----------------------------------------------+
 * </pre>
 *
 * An untyped (startup) frame has {@link #type()} {@link #UNTYPED}. The body array is owned by the
 * frame; callers must not modify it.
 */
public record PgFrame(byte type, byte[] body) {

    /** Type of a startup packet, which has no type byte on the wire. */
    public static final byte UNTYPED = 0;

    public PgFrame {
        if (body == null) {
            throw new IllegalArgumentException("frame body is null");
        }
    }

    public boolean isUntyped() {
        return type == UNTYPED;
    }

    /** The type byte as PostgreSQL's docs print it ('Q') or "startup packet". */
    public String describeType() {
        return describeType(type);
    }

    static String describeType(byte type) {
        if (type == UNTYPED) {
            return "startup packet";
        }
        int t = type & 0xFF;
        if (t >= 0x20 && t < 0x7F) {
            return "'" + (char) t + "'";
        }
        return String.format("0x%02X", t);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PgFrame f && f.type == type && java.util.Arrays.equals(f.body, body);
    }

    @Override
    public int hashCode() {
        return 31 * type + java.util.Arrays.hashCode(body);
    }

    @Override
    public String toString() {
        return "PgFrame[" + describeType() + ", " + body.length + " bytes]";
    }
}
