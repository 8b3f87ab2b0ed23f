package org.pageserver.protocol.pgwire;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Bounds-checked big-endian reader over one message body, the Java counterpart of pqformat.c's
 * {@code pq_getmsgint}/{@code pq_getmsgstring}/{@code pq_getmsgend}. Every read that would run
 * past the body throws {@link PgProtocolException} (08P01) naming the message, never an
 * IndexOutOfBounds; strings must be NUL-terminated valid UTF-8 (the only encoding pageserver
 * speaks), otherwise 08P01 / 22021.
 */
public final class PgReader {

    private final byte[] buf;
    private final int limit;
    private final String what;
    private int pos;

    /** @param what the message being read, for error messages ("Query", "StartupMessage"). */
    public PgReader(byte[] body, String what) {
        this(body, 0, body.length, what);
    }

    public PgReader(byte[] buf, int offset, int length, String what) {
        if (offset < 0 || length < 0 || offset > buf.length - length) {
            throw new IllegalArgumentException("bad slice " + offset + "+" + length + " of " + buf.length);
        }
        this.buf = buf;
        this.pos = offset;
        this.limit = offset + length;
        this.what = what;
    }

    public int remaining() {
        return limit - pos;
    }

    public boolean hasRemaining() {
        return pos < limit;
    }

    private void need(int n, String field) {
        if (n < 0 || limit - pos < n) {
            throw PgProtocolException.violation("invalid " + what + " message: insufficient data left in message"
                    + " reading " + field + " (need " + n + " bytes, " + (limit - pos) + " left)");
        }
    }

    public int readByte() {
        need(1, "Byte1");
        return buf[pos++] & 0xFF;
    }

    /** Int16, signed as PostgreSQL's pq_getmsgint(msg, 2) is cast by its callers. */
    public short readInt16() {
        need(2, "Int16");
        short v = (short) (((buf[pos] & 0xFF) << 8) | (buf[pos + 1] & 0xFF));
        pos += 2;
        return v;
    }

    public int readInt32() {
        need(4, "Int32");
        int v = ((buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16) | ((buf[pos + 2] & 0xFF) << 8)
                | (buf[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    public long readInt64() {
        long hi = readInt32() & 0xFFFFFFFFL;
        long lo = readInt32() & 0xFFFFFFFFL;
        return (hi << 32) | lo;
    }

    public byte[] readBytes(int n) {
        need(n, "Byte" + n);
        byte[] out = new byte[n];
        System.arraycopy(buf, pos, out, 0, n);
        pos += n;
        return out;
    }

    /** Everything left in the body. */
    public byte[] readRest() {
        return readBytes(remaining());
    }

    /** A NUL-terminated UTF-8 string (pq_getmsgstring). */
    public String readCString() {
        int nul = -1;
        for (int i = pos; i < limit; i++) {
            if (buf[i] == 0) {
                nul = i;
                break;
            }
        }
        if (nul < 0) {
            throw PgProtocolException.violation("invalid " + what + " message: invalid string in message"
                    + " (no NUL terminator within the " + (limit - pos) + " remaining bytes)");
        }
        String s = decodeUtf8(buf, pos, nul - pos, what);
        pos = nul + 1;
        return s;
    }

    /** Fails unless the whole body has been consumed (pq_getmsgend). */
    public void end() {
        if (pos != limit) {
            throw PgProtocolException.violation("invalid " + what + " message: invalid message format ("
                    + (limit - pos) + " unexpected trailing bytes)");
        }
    }

    /** Strict UTF-8 decoding: malformed input is an error (22021), not silently replaced. */
    static String decodeUtf8(byte[] b, int off, int len, String what) {
        try {
            CharBuffer cb = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, off, len));
            return cb.toString();
        } catch (CharacterCodingException e) {
            throw new PgProtocolException(SqlState.CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\" in " + what + " message");
        }
    }
}
