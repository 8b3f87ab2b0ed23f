package org.pageserver.protocol.pgwire;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Incremental frame decoder: {@link #feed} bytes as they arrive from a socket, then call
 * {@link #next()} until it returns {@code null} (no whole frame buffered yet). Mirrors the
 * framing done by {@code ProcessStartupPacket} (postmaster.c) for the first packet and by
 * {@code pq_getmessage} (pqcomm.c) for every later one; see {@link PgFrame} for the layouts.
 *
 * <p>A server-side decoder starts in startup mode: the first frame is untyped. After an
 * untyped SSLRequest or GSSENCRequest it stays in startup mode, because the client follows the
 * server's one-byte 'N' answer with its real StartupMessage (as ProcessStartupPacket recurses).
 * A client-side decoder reads typed frames only; {@link #nextByte()} reads the lone 'S'/'N'
 * byte a server sends in answer to SSLRequest.
 *
 * <p>Lengths are checked as soon as the header is buffered, before anything of that size is
 * allocated: a startup packet below 8 or above {@link #MAX_STARTUP_PACKET_LENGTH} bytes, a typed
 * message whose type the current {@link MessageLimits} do not take or whose body is past their
 * bound for its type, is a protocol violation (08P01). The reader changes the limits as its state
 * changes ({@link #limits(MessageLimits)}: authentication, session, copy); they apply from the
 * next frame on. The buffer only grows to hold one frame plus whatever the caller fed at once.
 * After an error the decoder is poisoned and rethrows the same error.
 */
public final class PgFrameDecoder {

    /** From pqcomm.h: startup packets larger than this are refused. */
    public static final int MAX_STARTUP_PACKET_LENGTH = 10000;
    /** Default body limit for a server reading client messages. */
    public static final int DEFAULT_SERVER_MAX_MESSAGE_SIZE = 1 << 20;
    /** Default body limit for a client receiving WAL or base backup CopyData from a server. */
    public static final int DEFAULT_CLIENT_MAX_MESSAGE_SIZE = 64 << 20;

    private MessageLimits limits;
    private boolean startupMode;
    private byte[] buf = new byte[512];
    private int start;
    private int end;
    private PgProtocolException failure;

    private PgFrameDecoder(MessageLimits limits, boolean startupMode) {
        limits(limits);
        this.startupMode = startupMode;
    }

    /** A decoder for the server side of a connection: startup packet first, then typed messages within {@code limits}. */
    public static PgFrameDecoder forServer(MessageLimits limits) {
        return new PgFrameDecoder(limits, true);
    }

    /** A server-side decoder taking every message type with a body of up to {@code maxMessageSize} bytes. */
    public static PgFrameDecoder forServer(int maxMessageSize) {
        return forServer(MessageLimits.uniform(maxMessageSize));
    }

    /** A decoder for the client side of a connection: typed backend messages only, bodies up to {@code maxMessageSize}. */
    public static PgFrameDecoder forClient(int maxMessageSize) {
        return new PgFrameDecoder(MessageLimits.uniform(maxMessageSize), false);
    }

    /** The limits from the next frame on. */
    public void limits(MessageLimits l) {
        if (l == null) {
            throw new IllegalArgumentException("message limits are null");
        }
        limits = l;
    }

    /** True while the next frame will be read as an untyped startup packet. */
    public boolean inStartupMode() {
        return startupMode;
    }

    /** Bytes fed but not yet returned in a frame. */
    public int buffered() {
        return end - start;
    }

    public void feed(byte[] bytes) {
        feed(bytes, 0, bytes.length);
    }

    public void feed(byte[] bytes, int off, int len) {
        if (off < 0 || len < 0 || off > bytes.length - len) {
            throw new IllegalArgumentException("bad slice " + off + "+" + len + " of " + bytes.length);
        }
        makeRoom(len);
        System.arraycopy(bytes, off, buf, end, len);
        end += len;
    }

    public void feed(ByteBuffer bytes) {
        int len = bytes.remaining();
        makeRoom(len);
        bytes.get(buf, end, len);
        end += len;
    }

    private void makeRoom(int len) {
        if (buf.length - end >= len) {
            return;
        }
        int live = end - start;
        if (live + len < 0) {
            throw new IllegalStateException("decoder buffer overflow");
        }
        if (buf.length >= live + len && start > 0) {
            System.arraycopy(buf, start, buf, 0, live);
        } else {
            long doubled = Math.min(Integer.MAX_VALUE - 8L, 2L * buf.length);
            byte[] nb = new byte[(int) Math.max(live + (long) len, doubled)];
            System.arraycopy(buf, start, nb, 0, live);
            buf = nb;
        }
        start = 0;
        end = live;
    }

    /**
     * Reads one raw byte outside of any frame: the server's 'S'/'N' answer to SSLRequest or
     * GSSENCRequest. Returns -1 if no byte is buffered.
     */
    public int nextByte() {
        if (failure != null) {
            throw failure;
        }
        if (end == start) {
            return -1;
        }
        return buf[start++] & 0xFF;
    }

    /** The next whole frame, or null if more bytes are needed. */
    public PgFrame next() {
        if (failure != null) {
            throw failure;
        }
        try {
            return startupMode ? nextStartup() : nextTyped();
        } catch (PgProtocolException e) {
            failure = e;
            throw e;
        }
    }

    private int int32At(int at) {
        return ((buf[at] & 0xFF) << 24) | ((buf[at + 1] & 0xFF) << 16) | ((buf[at + 2] & 0xFF) << 8)
                | (buf[at + 3] & 0xFF);
    }

    private PgFrame nextStartup() {
        if (end - start < 4) {
            return null;
        }
        int len = int32At(start);
        // ProcessStartupPacket: the length covers itself and at least the Int32 protocol code.
        if (len < 8 || len > MAX_STARTUP_PACKET_LENGTH) {
            throw PgProtocolException.violation("invalid length of startup packet: " + Integer.toUnsignedString(len)
                    + " (must be between 8 and " + MAX_STARTUP_PACKET_LENGTH + ")");
        }
        if (end - start < len) {
            return null;
        }
        byte[] body = Arrays.copyOfRange(buf, start + 4, start + len);
        start += len;
        int code = int32At(0, body);
        if (!(len == 8 && (code == FrontendMessage.SSLRequest.NEGOTIATE_SSL_CODE
                || code == FrontendMessage.GSSENCRequest.NEGOTIATE_GSS_CODE))) {
            startupMode = false;
        }
        return new PgFrame(PgFrame.UNTYPED, body);
    }

    private static int int32At(int at, byte[] b) {
        return ((b[at] & 0xFF) << 24) | ((b[at + 1] & 0xFF) << 16) | ((b[at + 2] & 0xFF) << 8) | (b[at + 3] & 0xFF);
    }

    private PgFrame nextTyped() {
        if (end - start < 5) {
            return null;
        }
        byte type = buf[start];
        int len = int32At(start + 1);
        if (type == PgFrame.UNTYPED) {
            throw PgProtocolException.violation("invalid message type 0x00");
        }
        limits.check(type, len);
        int bodyLen = len - 4;
        if (end - start - 5 < bodyLen) {
            return null;
        }
        byte[] body = Arrays.copyOfRange(buf, start + 5, start + 5 + bodyLen);
        start += 5 + bodyLen;
        if (start == end) {
            start = 0;
            end = 0;
        }
        return new PgFrame(type, body);
    }
}
