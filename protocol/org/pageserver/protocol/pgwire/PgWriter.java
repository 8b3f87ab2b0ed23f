package org.pageserver.protocol.pgwire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Growable big-endian message builder, the counterpart of pqformat.c's {@code pq_beginmessage}/
 * {@code pq_send*}/{@code pq_endmessage}: {@link #beginMessage} writes the type byte and a
 * placeholder length, {@link #endMessage} patches in the length (which counts itself, not the
 * type byte). Several messages may be appended to one writer and sent as one buffer.
 */
public final class PgWriter {

    private byte[] buf;
    private int len;
    private int lengthAt = -1;

    public PgWriter() {
        this(256);
    }

    public PgWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    private void ensure(int extra) {
        int need = len + extra;
        if (need < 0) {
            throw new IllegalStateException("message buffer overflow");
        }
        if (need > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(need, buf.length * 2));
        }
    }

    /** Starts a typed message: Byte1 type, Int32 length placeholder. */
    public PgWriter beginMessage(byte type) {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message already open");
        }
        writeByte(type);
        lengthAt = len;
        writeInt32(0);
        return this;
    }

    /** Starts an untyped startup packet: Int32 length placeholder only. */
    public PgWriter beginStartupPacket() {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message already open");
        }
        lengthAt = len;
        writeInt32(0);
        return this;
    }

    public PgWriter endMessage() {
        if (lengthAt < 0) {
            throw new IllegalStateException("no message open");
        }
        int l = len - lengthAt;
        buf[lengthAt] = (byte) (l >>> 24);
        buf[lengthAt + 1] = (byte) (l >>> 16);
        buf[lengthAt + 2] = (byte) (l >>> 8);
        buf[lengthAt + 3] = (byte) l;
        lengthAt = -1;
        return this;
    }

    public PgWriter writeByte(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    public PgWriter writeInt16(int v) {
        ensure(2);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public PgWriter writeInt32(int v) {
        ensure(4);
        buf[len++] = (byte) (v >>> 24);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public PgWriter writeInt64(long v) {
        writeInt32((int) (v >>> 32));
        return writeInt32((int) v);
    }

    public PgWriter writeBytes(byte[] b) {
        return writeBytes(b, 0, b.length);
    }

    public PgWriter writeBytes(byte[] b, int off, int n) {
        ensure(n);
        System.arraycopy(b, off, buf, len, n);
        len += n;
        return this;
    }

    /** A NUL-terminated UTF-8 string; a string containing NUL cannot be sent and is refused. */
    public PgWriter writeCString(String s) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("string contains a NUL character, cannot be sent in a protocol message");
        }
        writeBytes(s.getBytes(StandardCharsets.UTF_8));
        return writeByte(0);
    }

    public int size() {
        return len;
    }

    public byte[] toByteArray() {
        if (lengthAt >= 0) {
            throw new IllegalStateException("message still open");
        }
        return Arrays.copyOf(buf, len);
    }

    public void reset() {
        len = 0;
        lengthAt = -1;
    }
}
