package org.pageserver.protocol.pgwire;

import java.util.Arrays;

/**
 * Which typed messages a reader takes in its current state, and the largest body of each: what
 * {@code SocketBackend} (postgres.c) decides from the type byte before it reads the rest, so that
 * {@link PgFrameDecoder} refuses a message from its 5-byte header, before anything of the
 * declared size is buffered. A type not taken, or a length past its bound, is a protocol
 * violation (08P01), as PostgreSQL's pq_getmessage reports "invalid message length".
 *
 * <p>PostgreSQL's bounds count the Int32 length word; these count the body after it.
 */
public final class MessageLimits {

    /** PQ_SMALL_MESSAGE_LIMIT (libpq.h, 10,000 with the length word): messages that are never long. */
    public static final int SMALL_MESSAGE_BODY = 10000 - 4;
    /** PG_MAX_AUTH_TOKEN_LENGTH (auth.c, 65,535 with the length word): password and SASL messages. */
    public static final int AUTH_TOKEN_BODY = 65535 - 4;

    private static final int NOT_TAKEN = -1;

    private final int[] maxBody;
    /** Where the reader is, for the error message ("during authentication"). */
    private final String state;

    private MessageLimits(int[] maxBody, String state) {
        this.maxBody = maxBody;
        this.state = state;
    }

    /** Every type byte taken, each up to {@code maxBody} bytes: a client reading a server. */
    public static MessageLimits uniform(int maxBody) {
        requireNonNegative(maxBody);
        int[] m = new int[256];
        Arrays.fill(m, maxBody);
        m[PgFrame.UNTYPED] = NOT_TAKEN;
        return new MessageLimits(m, "");
    }

    /**
     * Between the StartupMessage and AuthenticationOk: a password or SASL message, or Terminate
     * (ClientAuthentication reads nothing else).
     */
    public static MessageLimits authentication() {
        return none("during authentication")
                .with(FrontendMessage.PASSWORD, AUTH_TOKEN_BODY)
                .with(FrontendMessage.TERMINATE, SMALL_MESSAGE_BODY);
    }

    /**
     * A session reading queries, as SocketBackend: Query, Parse, Bind, FunctionCall and CopyData
     * (left over from a failed COPY) up to {@code maxMessageBody}; the others up to
     * {@link #SMALL_MESSAGE_BODY}.
     */
    public static MessageLimits session(int maxMessageBody) {
        requireNonNegative(maxMessageBody);
        MessageLimits l = none("in a session");
        for (byte t : new byte[] {FrontendMessage.QUERY, FrontendMessage.PARSE, FrontendMessage.BIND,
                FrontendMessage.FUNCTION_CALL, FrontendMessage.COPY_DATA}) {
            l = l.with(t, maxMessageBody);
        }
        for (byte t : new byte[] {FrontendMessage.CLOSE, FrontendMessage.DESCRIBE, FrontendMessage.EXECUTE,
                FrontendMessage.FLUSH, FrontendMessage.SYNC, FrontendMessage.TERMINATE, FrontendMessage.COPY_DONE,
                FrontendMessage.COPY_FAIL}) {
            l = l.with(t, SMALL_MESSAGE_BODY);
        }
        return l;
    }

    /**
     * A copy from the client in progress: CopyData up to {@code maxCopyData} (what the copy's
     * consumer can take: the largest pagestream request), CopyDone, CopyFail, Flush, Sync and
     * Terminate up to {@link #SMALL_MESSAGE_BODY}.
     */
    public static MessageLimits copyIn(int maxCopyData) {
        requireNonNegative(maxCopyData);
        MessageLimits l = none("during COPY").with(FrontendMessage.COPY_DATA, maxCopyData);
        for (byte t : new byte[] {FrontendMessage.COPY_DONE, FrontendMessage.COPY_FAIL, FrontendMessage.FLUSH,
                FrontendMessage.SYNC, FrontendMessage.TERMINATE}) {
            l = l.with(t, SMALL_MESSAGE_BODY);
        }
        return l;
    }

    private static MessageLimits none(String state) {
        int[] m = new int[256];
        Arrays.fill(m, NOT_TAKEN);
        return new MessageLimits(m, state);
    }

    private MessageLimits with(byte type, int max) {
        int[] m = maxBody.clone();
        m[type & 0xFF] = max;
        return new MessageLimits(m, state);
    }

    private static void requireNonNegative(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("a message size limit must be >= 0: " + max);
        }
    }

    /** The largest body of a message of this type, or -1 if the type is not taken at all. */
    public int maxBody(byte type) {
        return maxBody[type & 0xFF];
    }

    /**
     * Checks a message header as soon as it is read: throws 08P01 unless the type is taken and
     * {@code length} (the Int32 length word, which counts itself) is within its bound.
     */
    void check(byte type, int length) {
        int max = maxBody(type);
        if (max == NOT_TAKEN) {
            throw PgProtocolException.violation("invalid frontend message type " + (type & 0xFF) + " ("
                    + PgFrame.describeType(type) + ")" + (state.isEmpty() ? "" : " " + state));
        }
        if (length < 4 || length - 4 > max) {
            throw PgProtocolException.violation("invalid message length " + Integer.toUnsignedString(length)
                    + " for message type " + PgFrame.describeType(type) + " (its body must be at most " + max
                    + " bytes" + (state.isEmpty() ? "" : " " + state) + ")");
        }
    }
}
