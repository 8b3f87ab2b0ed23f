package org.pageserver.protocol.pgwire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Messages a client (frontend) sends, as in "Message Formats" of the PostgreSQL 15 protocol
 * chapter. Each record has a static {@code parse(byte[] body)} taking the frame body (after
 * type and length) and a {@link #write} producing the whole framed message. Byte order is
 * big-endian (network order) throughout.
 *
 * <p>The 'p' type byte is shared by PasswordMessage, SASLInitialResponse and SASLResponse; which
 * one it is depends on what the server asked for, so {@link #parse(PgFrame, PasswordKind)} takes
 * that as an argument.
 */
public sealed interface FrontendMessage extends PgMessage
        permits FrontendMessage.StartupMessage, FrontendMessage.SSLRequest, FrontendMessage.GSSENCRequest,
        FrontendMessage.CancelRequest, FrontendMessage.Query, FrontendMessage.Terminate, CopyData, CopyDone,
        FrontendMessage.CopyFail, FrontendMessage.PasswordMessage, FrontendMessage.SASLInitialResponse,
        FrontendMessage.SASLResponse, FrontendMessage.Sync, FrontendMessage.Flush, FrontendMessage.Parse,
        FrontendMessage.Bind, FrontendMessage.Describe, FrontendMessage.Execute, FrontendMessage.Close {

    /** What a 'p' message is expected to be, given the last Authentication request sent. */
    enum PasswordKind {
        /** No authentication exchange in progress: 'p' is a protocol violation. */
        NONE,
        /** After AuthenticationCleartextPassword or AuthenticationMD5Password. */
        PASSWORD,
        /** After AuthenticationSASL. */
        SASL_INITIAL,
        /** After AuthenticationSASLContinue. */
        SASL_CONTINUE
    }

    byte QUERY = 'Q';
    byte TERMINATE = 'X';
    byte COPY_DATA = 'd';
    byte COPY_DONE = 'c';
    byte COPY_FAIL = 'f';
    byte PASSWORD = 'p';
    byte SYNC = 'S';
    byte FLUSH = 'H';
    byte PARSE = 'P';
    byte BIND = 'B';
    byte DESCRIBE = 'D';
    byte EXECUTE = 'E';
    byte CLOSE = 'C';
    byte FUNCTION_CALL = 'F';

    /** Parses a typed frame that is not a 'p' message (a 'p' is refused). */
    static FrontendMessage parse(PgFrame frame) {
        return parse(frame, PasswordKind.NONE);
    }

    /**
     * Parses a frame into its message. Untyped frames go to {@link #parseStartup}. Unknown type
     * bytes and malformed bodies throw {@link PgProtocolException} (08P01).
     */
    static FrontendMessage parse(PgFrame frame, PasswordKind passwordKind) {
        byte[] b = frame.body();
        return switch (frame.type()) {
            case PgFrame.UNTYPED -> parseStartup(frame);
            case QUERY -> Query.parse(b);
            case TERMINATE -> Terminate.parse(b);
            case COPY_DATA -> CopyData.parse(b);
            case COPY_DONE -> CopyDone.parse(b);
            case COPY_FAIL -> CopyFail.parse(b);
            case SYNC -> Sync.parse(b);
            case FLUSH -> Flush.parse(b);
            case PARSE -> Parse.parse(b);
            case BIND -> Bind.parse(b);
            case DESCRIBE -> Describe.parse(b);
            case EXECUTE -> Execute.parse(b);
            case CLOSE -> Close.parse(b);
            case PASSWORD -> switch (passwordKind) {
                case PASSWORD -> PasswordMessage.parse(b);
                case SASL_INITIAL -> SASLInitialResponse.parse(b);
                case SASL_CONTINUE -> SASLResponse.parse(b);
                case NONE -> throw PgProtocolException.violation(
                        "unexpected password message ('p') outside of an authentication exchange");
            };
            case FUNCTION_CALL -> throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                    "fastpath function calls ('F') are not supported");
            default -> throw PgProtocolException.violation("invalid frontend message type "
                    + (frame.type() & 0xFF) + " (" + frame.describeType() + ")");
        };
    }

    /**
     * Parses an untyped startup packet body: StartupMessage, SSLRequest, GSSENCRequest or
     * CancelRequest, told apart by the leading Int32 code (ProcessStartupPacket, postmaster.c).
     */
    static FrontendMessage parseStartup(PgFrame frame) {
        if (!frame.isUntyped()) {
            throw PgProtocolException.violation("expected a startup packet, got message type " + frame.describeType());
        }
        byte[] b = frame.body();
        if (b.length < 4) {
            throw PgProtocolException.violation("invalid length of startup packet: " + (b.length + 4));
        }
        int code = new PgReader(b, "startup packet").readInt32();
        return switch (code) {
            case SSLRequest.NEGOTIATE_SSL_CODE -> SSLRequest.parse(b);
            case GSSENCRequest.NEGOTIATE_GSS_CODE -> GSSENCRequest.parse(b);
            case CancelRequest.CANCEL_REQUEST_CODE -> CancelRequest.parse(b);
            default -> StartupMessage.parse(b);
        };
    }

    private static void writeUntypedCode(PgWriter out, int code) {
        out.beginStartupPacket().writeInt32(code).endMessage();
    }

    private static void writeEmpty(PgWriter out, byte type) {
        out.beginMessage(type).endMessage();
    }

    private static void parseEmpty(byte[] body, String what) {
        new PgReader(body, what).end();
    }

    /**
     * StartupMessage (untyped).
     * <pre>
     *   Int32 length | Int32 protocol version (196608 = 3.0: major in the high 16 bits)
     *   { String name | String value }* | Byte1 0
     * </pre>
     * Parameter names starting with "_pq_." are protocol options; "user" is required by servers.
     */
    record StartupMessage(int protocolVersion, Map<String, String> parameters) implements FrontendMessage {

        /** PG_PROTOCOL(3,0). */
        public static final int PROTOCOL_3_0 = 3 << 16;

        public StartupMessage {
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }

        public StartupMessage(Map<String, String> parameters) {
            this(PROTOCOL_3_0, parameters);
        }

        public int majorVersion() {
            return protocolVersion >>> 16;
        }

        public int minorVersion() {
            return protocolVersion & 0xFFFF;
        }

        public String user() {
            return parameters.get("user");
        }

        /** The database, defaulting to the user name as PostgreSQL does. */
        public String database() {
            String db = parameters.get("database");
            return db == null || db.isEmpty() ? user() : db;
        }

        public static StartupMessage parse(byte[] body) {
            PgReader r = new PgReader(body, "StartupMessage");
            int version = r.readInt32();
            int major = version >>> 16;
            if (major != 3) {
                throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED, "unsupported frontend protocol "
                        + major + "." + (version & 0xFFFF) + ": server supports 3.0 to 3.0");
            }
            // ProcessStartupPacket: name/value pairs until an empty name, which must be the last
            // byte of the packet.
            Map<String, String> params = new LinkedHashMap<>();
            while (true) {
                String name;
                try {
                    name = r.readCString();
                } catch (PgProtocolException e) {
                    if (!e.sqlState().equals(SqlState.PROTOCOL_VIOLATION)) {
                        throw e;
                    }
                    throw PgProtocolException.violation(
                            "invalid startup packet layout: expected terminator as last byte");
                }
                if (name.isEmpty()) {
                    break;
                }
                String value;
                try {
                    value = r.readCString();
                } catch (PgProtocolException e) {
                    if (!e.sqlState().equals(SqlState.PROTOCOL_VIOLATION)) {
                        throw e;
                    }
                    throw PgProtocolException.violation(
                            "invalid startup packet layout: parameter \"" + name + "\" has no value");
                }
                params.put(name, value);
            }
            if (r.hasRemaining()) {
                throw PgProtocolException.violation("invalid startup packet layout: expected terminator as last byte");
            }
            r.end();
            return new StartupMessage(version, params);
        }

        @Override
        public void write(PgWriter out) {
            out.beginStartupPacket().writeInt32(protocolVersion);
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                if (e.getKey().isEmpty()) {
                    throw new IllegalArgumentException("empty startup parameter name");
                }
                out.writeCString(e.getKey()).writeCString(e.getValue());
            }
            out.writeByte(0).endMessage();
        }
    }

    /** SSLRequest (untyped): {@code Int32 8 | Int32 80877103}. */
    record SSLRequest() implements FrontendMessage {
        /** NEGOTIATE_SSL_CODE, PG_PROTOCOL(1234,5679). */
        public static final int NEGOTIATE_SSL_CODE = (1234 << 16) | 5679;

        public static SSLRequest parse(byte[] body) {
            PgReader r = new PgReader(body, "SSLRequest");
            if (r.readInt32() != NEGOTIATE_SSL_CODE) {
                throw PgProtocolException.violation("not an SSLRequest");
            }
            r.end();
            return new SSLRequest();
        }

        @Override
        public void write(PgWriter out) {
            writeUntypedCode(out, NEGOTIATE_SSL_CODE);
        }
    }

    /** GSSENCRequest (untyped): {@code Int32 8 | Int32 80877104}. */
    record GSSENCRequest() implements FrontendMessage {
        /** NEGOTIATE_GSS_CODE, PG_PROTOCOL(1234,5680). */
        public static final int NEGOTIATE_GSS_CODE = (1234 << 16) | 5680;

        public static GSSENCRequest parse(byte[] body) {
            PgReader r = new PgReader(body, "GSSENCRequest");
            if (r.readInt32() != NEGOTIATE_GSS_CODE) {
                throw PgProtocolException.violation("not a GSSENCRequest");
            }
            r.end();
            return new GSSENCRequest();
        }

        @Override
        public void write(PgWriter out) {
            writeUntypedCode(out, NEGOTIATE_GSS_CODE);
        }
    }

    /**
     * CancelRequest (untyped), layout of CancelRequestPacket (pqcomm.h):
     * {@code Int32 16 | Int32 80877102 | Int32 backend process id | Int32 secret key}.
     */
    record CancelRequest(int processId, int secretKey) implements FrontendMessage {
        /** CANCEL_REQUEST_CODE, PG_PROTOCOL(1234,5678). */
        public static final int CANCEL_REQUEST_CODE = (1234 << 16) | 5678;

        public static CancelRequest parse(byte[] body) {
            PgReader r = new PgReader(body, "CancelRequest");
            if (r.readInt32() != CANCEL_REQUEST_CODE) {
                throw PgProtocolException.violation("not a CancelRequest");
            }
            CancelRequest m = new CancelRequest(r.readInt32(), r.readInt32());
            r.end();
            return m;
        }

        @Override
        public void write(PgWriter out) {
            out.beginStartupPacket().writeInt32(CANCEL_REQUEST_CODE).writeInt32(processId).writeInt32(secretKey)
                    .endMessage();
        }
    }

    /** Query: {@code Byte1 'Q' | Int32 len | String query}. */
    record Query(String sql) implements FrontendMessage {
        public static Query parse(byte[] body) {
            PgReader r = new PgReader(body, "Query");
            Query q = new Query(r.readCString());
            r.end();
            return q;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(QUERY).writeCString(sql).endMessage();
        }
    }

    /** Terminate: {@code Byte1 'X' | Int32 4}. */
    record Terminate() implements FrontendMessage {
        public static Terminate parse(byte[] body) {
            parseEmpty(body, "Terminate");
            return new Terminate();
        }

        @Override
        public void write(PgWriter out) {
            writeEmpty(out, TERMINATE);
        }
    }

    /** CopyFail: {@code Byte1 'f' | Int32 len | String error message}. */
    record CopyFail(String message) implements FrontendMessage {
        public static CopyFail parse(byte[] body) {
            PgReader r = new PgReader(body, "CopyFail");
            CopyFail m = new CopyFail(r.readCString());
            r.end();
            return m;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(COPY_FAIL).writeCString(message).endMessage();
        }
    }

    /**
     * PasswordMessage: {@code Byte1 'p' | Int32 len | String password}, the cleartext password or
     * "md5" + 32 hex digits (see {@link Md5Password#clientResponse}).
     */
    record PasswordMessage(String password) implements FrontendMessage {
        public static PasswordMessage parse(byte[] body) {
            PgReader r = new PgReader(body, "PasswordMessage");
            PasswordMessage m = new PasswordMessage(r.readCString());
            r.end();
            return m;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PASSWORD).writeCString(password).endMessage();
        }

        @Override
        public String toString() {
            return "PasswordMessage[***]";
        }
    }

    /**
     * SASLInitialResponse:
     * {@code Byte1 'p' | Int32 len | String mechanism | Int32 n (-1: no initial response) | Byte_n data}.
     * {@code data} is null when n is -1.
     */
    record SASLInitialResponse(String mechanism, byte[] data) implements FrontendMessage {
        public static SASLInitialResponse parse(byte[] body) {
            PgReader r = new PgReader(body, "SASLInitialResponse");
            String mech = r.readCString();
            int n = r.readInt32();
            byte[] data;
            if (n == -1) {
                data = null;
            } else if (n < 0 || n != r.remaining()) {
                throw PgProtocolException.violation("malformed SASLInitialResponse: initial response length " + n
                        + " but " + r.remaining() + " bytes follow");
            } else {
                data = r.readBytes(n);
            }
            r.end();
            return new SASLInitialResponse(mech, data);
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PASSWORD).writeCString(mechanism);
            if (data == null) {
                out.writeInt32(-1);
            } else {
                out.writeInt32(data.length).writeBytes(data);
            }
            out.endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SASLInitialResponse s && s.mechanism.equals(mechanism) && Arrays.equals(s.data, data);
        }

        @Override
        public int hashCode() {
            return mechanism.hashCode() * 31 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "SASLInitialResponse[" + mechanism + ", " + (data == null ? "none" : data.length + " bytes") + "]";
        }
    }

    /** SASLResponse: {@code Byte1 'p' | Int32 len | Byte_n data} (the rest of the message). */
    record SASLResponse(byte[] data) implements FrontendMessage {
        public static SASLResponse parse(byte[] body) {
            return new SASLResponse(body.clone());
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PASSWORD).writeBytes(data).endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SASLResponse s && Arrays.equals(s.data, data);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "SASLResponse[" + data.length + " bytes]";
        }
    }

    /** Sync: {@code Byte1 'S' | Int32 4}. */
    record Sync() implements FrontendMessage {
        public static Sync parse(byte[] body) {
            parseEmpty(body, "Sync");
            return new Sync();
        }

        @Override
        public void write(PgWriter out) {
            writeEmpty(out, SYNC);
        }
    }

    /** Flush: {@code Byte1 'H' | Int32 4}. */
    record Flush() implements FrontendMessage {
        public static Flush parse(byte[] body) {
            parseEmpty(body, "Flush");
            return new Flush();
        }

        @Override
        public void write(PgWriter out) {
            writeEmpty(out, FLUSH);
        }
    }

    /**
     * Parse (extended query protocol):
     * <pre>
     *   Byte1 'P' | Int32 len | String statement name ("" = unnamed) | String query
     *   | Int16 n parameter types | Int32 type OID (0 = unspecified) x n
     * </pre>
     */
    record Parse(String statement, String query, int[] parameterTypes) implements FrontendMessage {
        public Parse {
            parameterTypes = parameterTypes.clone();
        }

        @Override
        public int[] parameterTypes() {
            return parameterTypes.clone();
        }

        public static Parse parse(byte[] body) {
            PgReader r = new PgReader(body, "Parse");
            String name = r.readCString();
            String query = r.readCString();
            int n = r.readInt16();
            if (n < 0 || n * 4L > r.remaining()) {
                throw PgProtocolException.violation("invalid Parse message: " + n + " parameter types but "
                        + r.remaining() + " bytes left");
            }
            int[] types = new int[n];
            for (int i = 0; i < n; i++) {
                types[i] = r.readInt32();
            }
            r.end();
            return new Parse(name, query, types);
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PARSE).writeCString(statement).writeCString(query).writeInt16(parameterTypes.length);
            for (int t : parameterTypes) {
                out.writeInt32(t);
            }
            out.endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Parse p && p.statement.equals(statement) && p.query.equals(query)
                    && Arrays.equals(p.parameterTypes, parameterTypes);
        }

        @Override
        public int hashCode() {
            return (statement.hashCode() * 31 + query.hashCode()) * 31 + Arrays.hashCode(parameterTypes);
        }

        @Override
        public String toString() {
            return "Parse[" + statement + ", " + query + ", " + Arrays.toString(parameterTypes) + "]";
        }
    }

    /**
     * Bind (extended query protocol):
     * <pre>
     *   Byte1 'B' | Int32 len | String portal | String statement
     *   | Int16 n format codes | Int16 format (0 text, 1 binary) x n
     *   | Int16 m parameter values | { Int32 len (-1 = NULL) | Byte_len value } x m
     *   | Int16 k result format codes | Int16 format x k
     * </pre>
     * A null element of {@code parameters} is SQL NULL.
     */
    record Bind(String portal, String statement, short[] parameterFormats, List<byte[]> parameters,
                short[] resultFormats) implements FrontendMessage {

        public Bind {
            parameterFormats = parameterFormats.clone();
            parameters = Collections.unmodifiableList(new ArrayList<>(parameters));
            resultFormats = resultFormats.clone();
        }

        @Override
        public short[] parameterFormats() {
            return parameterFormats.clone();
        }

        @Override
        public short[] resultFormats() {
            return resultFormats.clone();
        }

        public static Bind parse(byte[] body) {
            PgReader r = new PgReader(body, "Bind");
            String portal = r.readCString();
            String stmt = r.readCString();
            short[] pf = readFormats(r, "parameter format codes");
            int m = r.readInt16();
            if (m < 0 || m * 4L > r.remaining()) {
                throw PgProtocolException.violation("invalid Bind message: " + m + " parameters but "
                        + r.remaining() + " bytes left");
            }
            if (pf.length > 1 && pf.length != m) {
                throw PgProtocolException.violation("bind message has " + pf.length
                        + " parameter formats but " + m + " parameters");
            }
            List<byte[]> params = new ArrayList<>(m);
            for (int i = 0; i < m; i++) {
                int len = r.readInt32();
                if (len == -1) {
                    params.add(null);
                } else if (len < 0) {
                    throw PgProtocolException.violation("invalid Bind message: parameter " + (i + 1)
                            + " has invalid length " + len);
                } else {
                    params.add(r.readBytes(len));
                }
            }
            short[] rf = readFormats(r, "result format codes");
            r.end();
            return new Bind(portal, stmt, pf, params, rf);
        }

        private static short[] readFormats(PgReader r, String what) {
            int n = r.readInt16();
            if (n < 0 || n * 2L > r.remaining()) {
                throw PgProtocolException.violation("invalid Bind message: " + n + " " + what + " but "
                        + r.remaining() + " bytes left");
            }
            short[] f = new short[n];
            for (int i = 0; i < n; i++) {
                f[i] = r.readInt16();
                if (f[i] != 0 && f[i] != 1) {
                    throw PgProtocolException.violation("invalid Bind message: unsupported format code " + f[i]);
                }
            }
            return f;
        }

        /** The format (0 text, 1 binary) requested for result column {@code i} of {@code n}. */
        public short resultFormat(int i) {
            if (resultFormats.length == 0) {
                return 0;
            }
            if (resultFormats.length == 1) {
                return resultFormats[0];
            }
            return resultFormats[i];
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(BIND).writeCString(portal).writeCString(statement);
            out.writeInt16(parameterFormats.length);
            for (short f : parameterFormats) {
                out.writeInt16(f);
            }
            out.writeInt16(parameters.size());
            for (byte[] p : parameters) {
                if (p == null) {
                    out.writeInt32(-1);
                } else {
                    out.writeInt32(p.length).writeBytes(p);
                }
            }
            out.writeInt16(resultFormats.length);
            for (short f : resultFormats) {
                out.writeInt16(f);
            }
            out.endMessage();
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Bind b) || !b.portal.equals(portal) || !b.statement.equals(statement)
                    || !Arrays.equals(b.parameterFormats, parameterFormats)
                    || !Arrays.equals(b.resultFormats, resultFormats) || b.parameters.size() != parameters.size()) {
                return false;
            }
            for (int i = 0; i < parameters.size(); i++) {
                if (!Arrays.equals(b.parameters.get(i), parameters.get(i))) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            return portal.hashCode() * 31 + statement.hashCode();
        }

        @Override
        public String toString() {
            return "Bind[portal=" + portal + ", statement=" + statement + ", " + parameters.size()
                    + " parameters, resultFormats=" + Arrays.toString(resultFormats) + "]";
        }
    }

    /** Describe: {@code Byte1 'D' | Int32 len | Byte1 'S' (statement) or 'P' (portal) | String name}. */
    record Describe(byte kind, String name) implements FrontendMessage {
        public static final byte STATEMENT = 'S';
        public static final byte PORTAL = 'P';

        public Describe {
            if (kind != STATEMENT && kind != PORTAL) {
                throw PgProtocolException.violation("invalid DESCRIBE message subtype " + (kind & 0xFF));
            }
        }

        public static Describe parse(byte[] body) {
            PgReader r = new PgReader(body, "Describe");
            byte kind = (byte) r.readByte();
            Describe d = new Describe(kind, r.readCString());
            r.end();
            return d;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(DESCRIBE).writeByte(kind).writeCString(name).endMessage();
        }
    }

    /** Execute: {@code Byte1 'E' | Int32 len | String portal | Int32 max rows (0 = no limit)}. */
    record Execute(String portal, int maxRows) implements FrontendMessage {
        public static Execute parse(byte[] body) {
            PgReader r = new PgReader(body, "Execute");
            Execute e = new Execute(r.readCString(), r.readInt32());
            r.end();
            return e;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(EXECUTE).writeCString(portal).writeInt32(maxRows).endMessage();
        }
    }

    /** Close: {@code Byte1 'C' | Int32 len | Byte1 'S' (statement) or 'P' (portal) | String name}. */
    record Close(byte kind, String name) implements FrontendMessage {
        public Close {
            if (kind != Describe.STATEMENT && kind != Describe.PORTAL) {
                throw PgProtocolException.violation("invalid CLOSE message subtype " + (kind & 0xFF));
            }
        }

        public static Close parse(byte[] body) {
            PgReader r = new PgReader(body, "Close");
            byte kind = (byte) r.readByte();
            Close c = new Close(kind, r.readCString());
            r.end();
            return c;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(CLOSE).writeByte(kind).writeCString(name).endMessage();
        }
    }
}
