package org.pageserver.protocol.pgwire;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Messages a server (backend) sends, as in "Message Formats" of the PostgreSQL 15 protocol
 * chapter. Each record has a static {@code parse(byte[] body)} taking the frame body (after
 * type and length) and a {@link #write} producing the whole framed message; byte order is
 * big-endian. {@link #parse(PgFrame)} dispatches on the type byte, for clients.
 */
public sealed interface BackendMessage extends PgMessage
        permits BackendMessage.Authentication, BackendMessage.ParameterStatus, BackendMessage.BackendKeyData,
        BackendMessage.ReadyForQuery, BackendMessage.RowDescription, BackendMessage.DataRow,
        BackendMessage.CommandComplete, BackendMessage.EmptyQueryResponse, BackendMessage.ErrorResponse,
        BackendMessage.NoticeResponse, BackendMessage.CopyInResponse, BackendMessage.CopyOutResponse,
        BackendMessage.CopyBothResponse, CopyData, CopyDone, BackendMessage.ParseComplete,
        BackendMessage.BindComplete, BackendMessage.CloseComplete, BackendMessage.NoData,
        BackendMessage.PortalSuspended, BackendMessage.ParameterDescription,
        BackendMessage.NegotiateProtocolVersion, BackendMessage.NotificationResponse {

    byte AUTHENTICATION = 'R';
    byte PARAMETER_STATUS = 'S';
    byte BACKEND_KEY_DATA = 'K';
    byte READY_FOR_QUERY = 'Z';
    byte ROW_DESCRIPTION = 'T';
    byte DATA_ROW = 'D';
    byte COMMAND_COMPLETE = 'C';
    byte EMPTY_QUERY_RESPONSE = 'I';
    byte ERROR_RESPONSE = 'E';
    byte NOTICE_RESPONSE = 'N';
    byte COPY_IN_RESPONSE = 'G';
    byte COPY_OUT_RESPONSE = 'H';
    byte COPY_BOTH_RESPONSE = 'W';
    byte PARSE_COMPLETE = '1';
    byte BIND_COMPLETE = '2';
    byte CLOSE_COMPLETE = '3';
    byte NO_DATA = 'n';
    byte PORTAL_SUSPENDED = 's';
    byte PARAMETER_DESCRIPTION = 't';
    byte NEGOTIATE_PROTOCOL_VERSION = 'v';
    byte NOTIFICATION_RESPONSE = 'A';

    /** Authentication request codes, pqcomm.h. */
    int AUTH_REQ_OK = 0;
    int AUTH_REQ_PASSWORD = 3;
    int AUTH_REQ_MD5 = 5;
    int AUTH_REQ_SASL = 10;
    int AUTH_REQ_SASL_CONT = 11;
    int AUTH_REQ_SASL_FIN = 12;

    /** ErrorResponse/NoticeResponse field codes, postgres_ext.h. */
    char PG_DIAG_SEVERITY = 'S';
    char PG_DIAG_SEVERITY_NONLOCALIZED = 'V';
    char PG_DIAG_SQLSTATE = 'C';
    char PG_DIAG_MESSAGE_PRIMARY = 'M';
    char PG_DIAG_MESSAGE_DETAIL = 'D';
    char PG_DIAG_MESSAGE_HINT = 'H';
    char PG_DIAG_STATEMENT_POSITION = 'P';
    char PG_DIAG_INTERNAL_POSITION = 'p';
    char PG_DIAG_INTERNAL_QUERY = 'q';
    char PG_DIAG_CONTEXT = 'W';
    char PG_DIAG_SCHEMA_NAME = 's';
    char PG_DIAG_TABLE_NAME = 't';
    char PG_DIAG_COLUMN_NAME = 'c';
    char PG_DIAG_DATATYPE_NAME = 'd';
    char PG_DIAG_CONSTRAINT_NAME = 'n';
    char PG_DIAG_SOURCE_FILE = 'F';
    char PG_DIAG_SOURCE_LINE = 'L';
    char PG_DIAG_SOURCE_FUNCTION = 'R';

    /** Parses a backend frame; unknown types and malformed bodies throw PgProtocolException. */
    static BackendMessage parse(PgFrame frame) {
        byte[] b = frame.body();
        return switch (frame.type()) {
            case AUTHENTICATION -> Authentication.parse(b);
            case PARAMETER_STATUS -> ParameterStatus.parse(b);
            case BACKEND_KEY_DATA -> BackendKeyData.parse(b);
            case READY_FOR_QUERY -> ReadyForQuery.parse(b);
            case ROW_DESCRIPTION -> RowDescription.parse(b);
            case DATA_ROW -> DataRow.parse(b);
            case COMMAND_COMPLETE -> CommandComplete.parse(b);
            case EMPTY_QUERY_RESPONSE -> EmptyQueryResponse.parse(b);
            case ERROR_RESPONSE -> ErrorResponse.parse(b);
            case NOTICE_RESPONSE -> NoticeResponse.parse(b);
            case COPY_IN_RESPONSE -> CopyInResponse.parse(b);
            case COPY_OUT_RESPONSE -> CopyOutResponse.parse(b);
            case COPY_BOTH_RESPONSE -> CopyBothResponse.parse(b);
            case CopyData.TYPE -> CopyData.parse(b);
            case CopyDone.TYPE -> CopyDone.parse(b);
            case PARSE_COMPLETE -> ParseComplete.parse(b);
            case BIND_COMPLETE -> BindComplete.parse(b);
            case CLOSE_COMPLETE -> CloseComplete.parse(b);
            case NO_DATA -> NoData.parse(b);
            case PORTAL_SUSPENDED -> PortalSuspended.parse(b);
            case PARAMETER_DESCRIPTION -> ParameterDescription.parse(b);
            case NEGOTIATE_PROTOCOL_VERSION -> NegotiateProtocolVersion.parse(b);
            case NOTIFICATION_RESPONSE -> NotificationResponse.parse(b);
            default -> throw PgProtocolException.violation("unexpected backend message type "
                    + (frame.type() & 0xFF) + " (" + frame.describeType() + ")");
        };
    }

    private static void parseEmpty(byte[] body, String what) {
        new PgReader(body, what).end();
    }

    // ---------------------------------------------------------------- authentication

    /**
     * The Authentication* family: {@code Byte1 'R' | Int32 len | Int32 request code | ...}.
     * Only the request codes pageserver speaks are modelled; others (Kerberos, GSS, SSPI) are
     * refused with 0A000.
     */
    sealed interface Authentication extends BackendMessage
            permits AuthenticationOk, AuthenticationCleartextPassword, AuthenticationMD5Password,
            AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal {

        static Authentication parse(byte[] body) {
            PgReader r = new PgReader(body, "Authentication");
            int code = r.readInt32();
            Authentication a = switch (code) {
                case AUTH_REQ_OK -> new AuthenticationOk();
                case AUTH_REQ_PASSWORD -> new AuthenticationCleartextPassword();
                case AUTH_REQ_MD5 -> new AuthenticationMD5Password(r.readBytes(4));
                case AUTH_REQ_SASL -> {
                    List<String> mechs = new ArrayList<>();
                    while (true) {
                        String m = r.readCString();
                        if (m.isEmpty()) {
                            break;
                        }
                        mechs.add(m);
                    }
                    yield new AuthenticationSASL(mechs);
                }
                case AUTH_REQ_SASL_CONT -> new AuthenticationSASLContinue(r.readRest());
                case AUTH_REQ_SASL_FIN -> new AuthenticationSASLFinal(r.readRest());
                default -> throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                        "authentication method " + code + " not supported");
            };
            r.end();
            return a;
        }
    }

    /** AuthenticationOk: {@code 'R' | Int32 8 | Int32 0}. */
    record AuthenticationOk() implements Authentication {
        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_OK).endMessage();
        }
    }

    /** AuthenticationCleartextPassword: {@code 'R' | Int32 8 | Int32 3}. */
    record AuthenticationCleartextPassword() implements Authentication {
        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_PASSWORD).endMessage();
        }
    }

    /** AuthenticationMD5Password: {@code 'R' | Int32 12 | Int32 5 | Byte4 salt}. */
    record AuthenticationMD5Password(byte[] salt) implements Authentication {
        public AuthenticationMD5Password {
            if (salt.length != 4) {
                throw new IllegalArgumentException("MD5 salt must be 4 bytes, got " + salt.length);
            }
            salt = salt.clone();
        }

        @Override
        public byte[] salt() {
            return salt.clone();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_MD5).writeBytes(salt).endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AuthenticationMD5Password a && Arrays.equals(a.salt, salt);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(salt);
        }
    }

    /**
     * AuthenticationSASL:
     * {@code 'R' | Int32 len | Int32 10 | { String mechanism }* | Byte1 0 (empty name ends list)}.
     */
    record AuthenticationSASL(List<String> mechanisms) implements Authentication {
        public AuthenticationSASL {
            mechanisms = List.copyOf(mechanisms);
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_SASL);
            for (String m : mechanisms) {
                if (m.isEmpty()) {
                    throw new IllegalArgumentException("empty SASL mechanism name");
                }
                out.writeCString(m);
            }
            out.writeByte(0).endMessage();
        }
    }

    /** AuthenticationSASLContinue: {@code 'R' | Int32 len | Int32 11 | Byte_n SASL data}. */
    record AuthenticationSASLContinue(byte[] data) implements Authentication {
        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_SASL_CONT).writeBytes(data).endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AuthenticationSASLContinue a && Arrays.equals(a.data, data);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "AuthenticationSASLContinue[" + new String(data, StandardCharsets.UTF_8) + "]";
        }
    }

    /** AuthenticationSASLFinal: {@code 'R' | Int32 len | Int32 12 | Byte_n SASL outcome data}. */
    record AuthenticationSASLFinal(byte[] data) implements Authentication {
        @Override
        public void write(PgWriter out) {
            out.beginMessage(AUTHENTICATION).writeInt32(AUTH_REQ_SASL_FIN).writeBytes(data).endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AuthenticationSASLFinal a && Arrays.equals(a.data, data);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "AuthenticationSASLFinal[" + new String(data, StandardCharsets.UTF_8) + "]";
        }
    }

    // ---------------------------------------------------------------- session setup

    /** ParameterStatus: {@code Byte1 'S' | Int32 len | String name | String value}. */
    record ParameterStatus(String name, String value) implements BackendMessage {
        public static ParameterStatus parse(byte[] body) {
            PgReader r = new PgReader(body, "ParameterStatus");
            ParameterStatus p = new ParameterStatus(r.readCString(), r.readCString());
            r.end();
            return p;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PARAMETER_STATUS).writeCString(name).writeCString(value).endMessage();
        }
    }

    /** BackendKeyData: {@code Byte1 'K' | Int32 12 | Int32 process id | Int32 secret key}. */
    record BackendKeyData(int processId, int secretKey) implements BackendMessage {
        public static BackendKeyData parse(byte[] body) {
            PgReader r = new PgReader(body, "BackendKeyData");
            BackendKeyData k = new BackendKeyData(r.readInt32(), r.readInt32());
            r.end();
            return k;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(BACKEND_KEY_DATA).writeInt32(processId).writeInt32(secretKey).endMessage();
        }
    }

    /**
     * ReadyForQuery: {@code Byte1 'Z' | Int32 5 | Byte1 status}, status 'I' idle, 'T' in a
     * transaction block, 'E' in a failed transaction block.
     */
    record ReadyForQuery(byte status) implements BackendMessage {
        public static final byte IDLE = 'I';
        public static final byte IN_TRANSACTION = 'T';
        public static final byte FAILED_TRANSACTION = 'E';

        public ReadyForQuery {
            if (status != IDLE && status != IN_TRANSACTION && status != FAILED_TRANSACTION) {
                throw PgProtocolException.violation("invalid ReadyForQuery transaction status "
                        + PgFrame.describeType(status));
            }
        }

        public static ReadyForQuery parse(byte[] body) {
            PgReader r = new PgReader(body, "ReadyForQuery");
            ReadyForQuery z = new ReadyForQuery((byte) r.readByte());
            r.end();
            return z;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(READY_FOR_QUERY).writeByte(status).endMessage();
        }
    }

    // ---------------------------------------------------------------- query results

    /**
     * RowDescription:
     * <pre>
     *   Byte1 'T' | Int32 len | Int16 n fields |
     *   { String name | Int32 table OID | Int16 column attnum | Int32 type OID | Int16 typlen
     *     | Int32 typmod | Int16 format (0 text, 1 binary) } x n
     * </pre>
     */
    record RowDescription(List<Field> fields) implements BackendMessage {

        /** One column of a RowDescription (0 for table OID / attnum when not a table column). */
        public record Field(String name, int tableOid, short columnNumber, int typeOid, short typeSize,
                            int typeModifier, short format) {
            /** A computed column of the given type in text format. */
            public static Field of(String name, int typeOid, short typeSize) {
                return new Field(name, 0, (short) 0, typeOid, typeSize, -1, (short) 0);
            }

            public Field withFormat(short newFormat) {
                return new Field(name, tableOid, columnNumber, typeOid, typeSize, typeModifier, newFormat);
            }
        }

        public RowDescription {
            fields = List.copyOf(fields);
        }

        public static RowDescription parse(byte[] body) {
            PgReader r = new PgReader(body, "RowDescription");
            int n = r.readInt16();
            // every field takes at least 19 bytes (empty name + 18 bytes of numbers)
            if (n < 0 || n * 19L > r.remaining()) {
                throw PgProtocolException.violation("invalid RowDescription message: " + n + " fields but "
                        + r.remaining() + " bytes left");
            }
            List<Field> fields = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                fields.add(new Field(r.readCString(), r.readInt32(), r.readInt16(), r.readInt32(), r.readInt16(),
                        r.readInt32(), r.readInt16()));
            }
            r.end();
            return new RowDescription(fields);
        }

        @Override
        public void write(PgWriter out) {
            if (fields.size() > Short.MAX_VALUE) {
                throw new IllegalArgumentException("too many columns: " + fields.size());
            }
            out.beginMessage(ROW_DESCRIPTION).writeInt16(fields.size());
            for (Field f : fields) {
                out.writeCString(f.name()).writeInt32(f.tableOid()).writeInt16(f.columnNumber())
                        .writeInt32(f.typeOid()).writeInt16(f.typeSize()).writeInt32(f.typeModifier())
                        .writeInt16(f.format());
            }
            out.endMessage();
        }
    }

    /**
     * DataRow: {@code Byte1 'D' | Int32 len | Int16 n | { Int32 len (-1 = NULL) | Byte_len value } x n}.
     * A null element of {@code values} is SQL NULL.
     */
    record DataRow(List<byte[]> values) implements BackendMessage {
        public DataRow {
            values = Collections.unmodifiableList(new ArrayList<>(values));
        }

        /** A row of text-format values (null = SQL NULL), UTF-8 encoded. */
        public static DataRow ofText(List<String> texts) {
            List<byte[]> v = new ArrayList<>(texts.size());
            for (String t : texts) {
                v.add(t == null ? null : t.getBytes(StandardCharsets.UTF_8));
            }
            return new DataRow(v);
        }

        public static DataRow parse(byte[] body) {
            PgReader r = new PgReader(body, "DataRow");
            int n = r.readInt16();
            if (n < 0 || n * 4L > r.remaining()) {
                throw PgProtocolException.violation("invalid DataRow message: " + n + " columns but "
                        + r.remaining() + " bytes left");
            }
            List<byte[]> values = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int len = r.readInt32();
                if (len == -1) {
                    values.add(null);
                } else if (len < 0) {
                    throw PgProtocolException.violation("invalid DataRow message: column " + (i + 1)
                            + " has invalid length " + len);
                } else {
                    values.add(r.readBytes(len));
                }
            }
            r.end();
            return new DataRow(values);
        }

        /** Value {@code i} decoded as UTF-8 text, or null for SQL NULL. */
        public String text(int i) {
            byte[] v = values.get(i);
            return v == null ? null : PgReader.decodeUtf8(v, 0, v.length, "DataRow");
        }

        @Override
        public void write(PgWriter out) {
            if (values.size() > Short.MAX_VALUE) {
                throw new IllegalArgumentException("too many columns: " + values.size());
            }
            out.beginMessage(DATA_ROW).writeInt16(values.size());
            for (byte[] v : values) {
                if (v == null) {
                    out.writeInt32(-1);
                } else {
                    out.writeInt32(v.length).writeBytes(v);
                }
            }
            out.endMessage();
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof DataRow d) || d.values.size() != values.size()) {
                return false;
            }
            for (int i = 0; i < values.size(); i++) {
                if (!Arrays.equals(d.values.get(i), values.get(i))) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            int h = 1;
            for (byte[] v : values) {
                h = h * 31 + Arrays.hashCode(v);
            }
            return h;
        }

        @Override
        public String toString() {
            List<String> s = new ArrayList<>();
            for (byte[] v : values) {
                s.add(v == null ? "NULL" : new String(v, StandardCharsets.UTF_8));
            }
            return "DataRow" + s;
        }
    }

    /** CommandComplete: {@code Byte1 'C' | Int32 len | String command tag ("SELECT 1")}. */
    record CommandComplete(String tag) implements BackendMessage {
        public static CommandComplete parse(byte[] body) {
            PgReader r = new PgReader(body, "CommandComplete");
            CommandComplete c = new CommandComplete(r.readCString());
            r.end();
            return c;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(COMMAND_COMPLETE).writeCString(tag).endMessage();
        }
    }

    /** EmptyQueryResponse: {@code Byte1 'I' | Int32 4}. */
    record EmptyQueryResponse() implements BackendMessage {
        public static EmptyQueryResponse parse(byte[] body) {
            parseEmpty(body, "EmptyQueryResponse");
            return new EmptyQueryResponse();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(EMPTY_QUERY_RESPONSE).endMessage();
        }
    }

    // ---------------------------------------------------------------- errors and notices

    /**
     * ErrorResponse:
     * {@code Byte1 'E' | Int32 len | { Byte1 field code | String value }* | Byte1 0}, field codes
     * PG_DIAG_* (S severity, V nonlocalized severity, C SQLSTATE, M message, D detail, H hint...).
     */
    record ErrorResponse(Map<Character, String> fields) implements BackendMessage {
        public static final String ERROR = "ERROR";
        public static final String FATAL = "FATAL";
        public static final String PANIC = "PANIC";

        public ErrorResponse {
            fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
        }

        /** An error with severity (S and V), SQLSTATE and primary message. */
        public static ErrorResponse of(String severity, String sqlState, String message) {
            return new ErrorResponse(Notices.basic(severity, sqlState, message));
        }

        public static ErrorResponse error(String sqlState, String message) {
            return of(ERROR, sqlState, message);
        }

        public static ErrorResponse fatal(String sqlState, String message) {
            return of(FATAL, sqlState, message);
        }

        public ErrorResponse with(char field, String value) {
            return new ErrorResponse(Notices.with(fields, field, value));
        }

        public ErrorResponse withDetail(String detail) {
            return detail == null ? this : with(PG_DIAG_MESSAGE_DETAIL, detail);
        }

        public ErrorResponse withHint(String hint) {
            return hint == null ? this : with(PG_DIAG_MESSAGE_HINT, hint);
        }

        public String severity() {
            return fields.getOrDefault(PG_DIAG_SEVERITY_NONLOCALIZED, fields.get(PG_DIAG_SEVERITY));
        }

        public String sqlState() {
            return fields.get(PG_DIAG_SQLSTATE);
        }

        public String message() {
            return fields.get(PG_DIAG_MESSAGE_PRIMARY);
        }

        public String detail() {
            return fields.get(PG_DIAG_MESSAGE_DETAIL);
        }

        public String hint() {
            return fields.get(PG_DIAG_MESSAGE_HINT);
        }

        public static ErrorResponse parse(byte[] body) {
            return new ErrorResponse(Notices.parse(body, "ErrorResponse"));
        }

        @Override
        public void write(PgWriter out) {
            Notices.write(out, ERROR_RESPONSE, fields);
        }

        @Override
        public String toString() {
            return "ErrorResponse" + fields;
        }
    }

    /** NoticeResponse: same layout as ErrorResponse with type 'N'. */
    record NoticeResponse(Map<Character, String> fields) implements BackendMessage {
        public static final String WARNING = "WARNING";
        public static final String NOTICE = "NOTICE";
        public static final String INFO = "INFO";

        public NoticeResponse {
            fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
        }

        public static NoticeResponse of(String severity, String sqlState, String message) {
            return new NoticeResponse(Notices.basic(severity, sqlState, message));
        }

        public NoticeResponse with(char field, String value) {
            return new NoticeResponse(Notices.with(fields, field, value));
        }

        public String severity() {
            return fields.getOrDefault(PG_DIAG_SEVERITY_NONLOCALIZED, fields.get(PG_DIAG_SEVERITY));
        }

        public String sqlState() {
            return fields.get(PG_DIAG_SQLSTATE);
        }

        public String message() {
            return fields.get(PG_DIAG_MESSAGE_PRIMARY);
        }

        public static NoticeResponse parse(byte[] body) {
            return new NoticeResponse(Notices.parse(body, "NoticeResponse"));
        }

        @Override
        public void write(PgWriter out) {
            Notices.write(out, NOTICE_RESPONSE, fields);
        }
    }

    // ---------------------------------------------------------------- copy

    private static short[] readCopyFormats(PgReader r, String what) {
        int overall = r.readByte();
        if (overall != 0 && overall != 1) {
            throw PgProtocolException.violation("invalid " + what + " message: overall format " + overall);
        }
        int n = r.readInt16();
        if (n < 0 || n * 2L != r.remaining()) {
            throw PgProtocolException.violation("invalid " + what + " message: " + n + " column formats but "
                    + r.remaining() + " bytes left");
        }
        short[] f = new short[n + 1];
        f[0] = (short) overall;
        for (int i = 0; i < n; i++) {
            f[i + 1] = r.readInt16();
        }
        r.end();
        return f;
    }

    private static void writeCopyResponse(PgWriter out, byte type, int overall, short[] columnFormats) {
        out.beginMessage(type).writeByte(overall).writeInt16(columnFormats.length);
        for (short s : columnFormats) {
            out.writeInt16(s);
        }
        out.endMessage();
    }

    /**
     * CopyInResponse:
     * {@code Byte1 'G' | Int32 len | Int8 overall format (0 text, 1 binary) | Int16 n | Int16 format x n}.
     */
    record CopyInResponse(int overallFormat, short[] columnFormats) implements BackendMessage {
        public static CopyInResponse parse(byte[] body) {
            short[] f = readCopyFormats(new PgReader(body, "CopyInResponse"), "CopyInResponse");
            return new CopyInResponse(f[0], Arrays.copyOfRange(f, 1, f.length));
        }

        @Override
        public void write(PgWriter out) {
            writeCopyResponse(out, COPY_IN_RESPONSE, overallFormat, columnFormats);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CopyInResponse c && c.overallFormat == overallFormat
                    && Arrays.equals(c.columnFormats, columnFormats);
        }

        @Override
        public int hashCode() {
            return overallFormat * 31 + Arrays.hashCode(columnFormats);
        }
    }

    /** CopyOutResponse: as CopyInResponse with type 'H'. */
    record CopyOutResponse(int overallFormat, short[] columnFormats) implements BackendMessage {
        public static CopyOutResponse parse(byte[] body) {
            short[] f = readCopyFormats(new PgReader(body, "CopyOutResponse"), "CopyOutResponse");
            return new CopyOutResponse(f[0], Arrays.copyOfRange(f, 1, f.length));
        }

        @Override
        public void write(PgWriter out) {
            writeCopyResponse(out, COPY_OUT_RESPONSE, overallFormat, columnFormats);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CopyOutResponse c && c.overallFormat == overallFormat
                    && Arrays.equals(c.columnFormats, columnFormats);
        }

        @Override
        public int hashCode() {
            return overallFormat * 31 + Arrays.hashCode(columnFormats);
        }
    }

    /**
     * CopyBothResponse: as CopyInResponse with type 'W'. walsender sends overall format 0 and
     * zero columns (pq_beginmessage(&buf, 'W'); pq_sendbyte(&buf, 0); pq_sendint16(&buf, 0)).
     */
    record CopyBothResponse(int overallFormat, short[] columnFormats) implements BackendMessage {
        public static final CopyBothResponse BINARY_STREAM = new CopyBothResponse(0, new short[0]);

        public static CopyBothResponse parse(byte[] body) {
            short[] f = readCopyFormats(new PgReader(body, "CopyBothResponse"), "CopyBothResponse");
            return new CopyBothResponse(f[0], Arrays.copyOfRange(f, 1, f.length));
        }

        @Override
        public void write(PgWriter out) {
            writeCopyResponse(out, COPY_BOTH_RESPONSE, overallFormat, columnFormats);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CopyBothResponse c && c.overallFormat == overallFormat
                    && Arrays.equals(c.columnFormats, columnFormats);
        }

        @Override
        public int hashCode() {
            return overallFormat * 31 + Arrays.hashCode(columnFormats);
        }
    }

    // ---------------------------------------------------------------- extended query protocol

    /** ParseComplete: {@code Byte1 '1' | Int32 4}. */
    record ParseComplete() implements BackendMessage {
        public static ParseComplete parse(byte[] body) {
            parseEmpty(body, "ParseComplete");
            return new ParseComplete();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PARSE_COMPLETE).endMessage();
        }
    }

    /** BindComplete: {@code Byte1 '2' | Int32 4}. */
    record BindComplete() implements BackendMessage {
        public static BindComplete parse(byte[] body) {
            parseEmpty(body, "BindComplete");
            return new BindComplete();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(BIND_COMPLETE).endMessage();
        }
    }

    /** CloseComplete: {@code Byte1 '3' | Int32 4}. */
    record CloseComplete() implements BackendMessage {
        public static CloseComplete parse(byte[] body) {
            parseEmpty(body, "CloseComplete");
            return new CloseComplete();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(CLOSE_COMPLETE).endMessage();
        }
    }

    /** NoData: {@code Byte1 'n' | Int32 4}. */
    record NoData() implements BackendMessage {
        public static NoData parse(byte[] body) {
            parseEmpty(body, "NoData");
            return new NoData();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(NO_DATA).endMessage();
        }
    }

    /** PortalSuspended: {@code Byte1 's' | Int32 4}. */
    record PortalSuspended() implements BackendMessage {
        public static PortalSuspended parse(byte[] body) {
            parseEmpty(body, "PortalSuspended");
            return new PortalSuspended();
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PORTAL_SUSPENDED).endMessage();
        }
    }

    /** ParameterDescription: {@code Byte1 't' | Int32 len | Int16 n | Int32 type OID x n}. */
    record ParameterDescription(int[] typeOids) implements BackendMessage {
        public ParameterDescription {
            typeOids = typeOids.clone();
        }

        @Override
        public int[] typeOids() {
            return typeOids.clone();
        }

        public static ParameterDescription parse(byte[] body) {
            PgReader r = new PgReader(body, "ParameterDescription");
            int n = r.readInt16();
            if (n < 0 || n * 4L != r.remaining()) {
                throw PgProtocolException.violation("invalid ParameterDescription message: " + n
                        + " parameters but " + r.remaining() + " bytes left");
            }
            int[] t = new int[n];
            for (int i = 0; i < n; i++) {
                t[i] = r.readInt32();
            }
            r.end();
            return new ParameterDescription(t);
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(PARAMETER_DESCRIPTION).writeInt16(typeOids.length);
            for (int t : typeOids) {
                out.writeInt32(t);
            }
            out.endMessage();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ParameterDescription p && Arrays.equals(p.typeOids, typeOids);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(typeOids);
        }
    }

    /**
     * NegotiateProtocolVersion: {@code Byte1 'v' | Int32 len | Int32 newest minor version supported
     * | Int32 n | String unrecognized protocol option x n} (SendNegotiateProtocolVersion, postmaster.c).
     */
    record NegotiateProtocolVersion(int newestMinorVersion, List<String> unrecognizedOptions)
            implements BackendMessage {
        public NegotiateProtocolVersion {
            unrecognizedOptions = List.copyOf(unrecognizedOptions);
        }

        public static NegotiateProtocolVersion parse(byte[] body) {
            PgReader r = new PgReader(body, "NegotiateProtocolVersion");
            int minor = r.readInt32();
            int n = r.readInt32();
            if (n < 0 || n > r.remaining()) {
                throw PgProtocolException.violation("invalid NegotiateProtocolVersion message: " + n
                        + " options but " + r.remaining() + " bytes left");
            }
            List<String> opts = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                opts.add(r.readCString());
            }
            r.end();
            return new NegotiateProtocolVersion(minor, opts);
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(NEGOTIATE_PROTOCOL_VERSION).writeInt32(newestMinorVersion)
                    .writeInt32(unrecognizedOptions.size());
            for (String o : unrecognizedOptions) {
                out.writeCString(o);
            }
            out.endMessage();
        }
    }

    /**
     * NotificationResponse: {@code Byte1 'A' | Int32 len | Int32 process id | String channel | String payload}.
     */
    record NotificationResponse(int processId, String channel, String payload) implements BackendMessage {
        public static NotificationResponse parse(byte[] body) {
            PgReader r = new PgReader(body, "NotificationResponse");
            NotificationResponse a = new NotificationResponse(r.readInt32(), r.readCString(), r.readCString());
            r.end();
            return a;
        }

        @Override
        public void write(PgWriter out) {
            out.beginMessage(NOTIFICATION_RESPONSE).writeInt32(processId).writeCString(channel)
                    .writeCString(payload).endMessage();
        }
    }
}
