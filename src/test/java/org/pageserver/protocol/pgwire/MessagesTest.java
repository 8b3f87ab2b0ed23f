package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.BackendMessage.*;
import org.pageserver.protocol.pgwire.FrontendMessage.*;

/** Round trips and garbage for every message type, both directions. */
class MessagesTest {

    private static final Map<String, String> PARAMS = new LinkedHashMap<>();

    static {
        PARAMS.put("user", "alice");
        PARAMS.put("database", "postgres");
        PARAMS.put("application_name", "psql ✓");
    }

    record Sample(PgMessage message, PasswordKind kind) {
    }

    static List<Sample> frontendSamples() {
        return List.of(
                new Sample(new StartupMessage(PARAMS), null),
                new Sample(new StartupMessage(StartupMessage.PROTOCOL_3_0, Map.of()), null),
                new Sample(new SSLRequest(), null),
                new Sample(new GSSENCRequest(), null),
                new Sample(new CancelRequest(4242, 0xCAFEBABE), null),
                new Sample(new Query("select 1; select 'ä'"), null),
                new Sample(new Query(""), null),
                new Sample(new Terminate(), null),
                new Sample(new CopyData(new byte[] {0, 1, 2, (byte) 0xFF}), null),
                new Sample(new CopyData(new byte[0]), null),
                new Sample(new CopyDone(), null),
                new Sample(new CopyFail("client gave up"), null),
                new Sample(new PasswordMessage("secret"), PasswordKind.PASSWORD),
                new Sample(new SASLInitialResponse("SCRAM-SHA-256", "n,,n=,r=abc".getBytes(StandardCharsets.US_ASCII)),
                        PasswordKind.SASL_INITIAL),
                new Sample(new SASLInitialResponse("SCRAM-SHA-256", null), PasswordKind.SASL_INITIAL),
                new Sample(new SASLResponse("c=biws,r=abc,p=xyz".getBytes(StandardCharsets.US_ASCII)),
                        PasswordKind.SASL_CONTINUE),
                new Sample(new Sync(), null),
                new Sample(new Flush(), null),
                new Sample(new Parse("s1", "select $1", new int[] {23, 0}), null),
                new Sample(new Parse("", "select 1", new int[0]), null),
                new Sample(new Bind("p1", "s1", new short[] {0, 1}, Arrays.asList(new byte[] {1}, null),
                        new short[] {1}), null),
                new Sample(new Bind("", "", new short[0], List.of(), new short[0]), null),
                new Sample(new Describe(Describe.PORTAL, "p1"), null),
                new Sample(new Describe(Describe.STATEMENT, ""), null),
                new Sample(new Execute("", 0), null),
                new Sample(new Execute("p1", 100), null),
                new Sample(new FrontendMessage.Close(Describe.STATEMENT, "s1"), null));
    }

    static List<BackendMessage> backendSamples() {
        return List.of(
                new AuthenticationOk(),
                new AuthenticationCleartextPassword(),
                new AuthenticationMD5Password(new byte[] {1, 2, 3, 4}),
                new AuthenticationSASL(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")),
                new AuthenticationSASLContinue("r=abc,s=c2FsdA==,i=4096".getBytes(StandardCharsets.US_ASCII)),
                new AuthenticationSASLFinal("v=abc=".getBytes(StandardCharsets.US_ASCII)),
                new ParameterStatus("server_version", "15.0 (pageserver)"),
                new BackendKeyData(77, -1),
                new ReadyForQuery(ReadyForQuery.IDLE),
                new ReadyForQuery(ReadyForQuery.FAILED_TRANSACTION),
                new RowDescription(List.of(RowDescription.Field.of("a", PgType.INT4, (short) 4),
                        new RowDescription.Field("b", 16384, (short) 2, PgType.TEXT, (short) -1, -1, (short) 1))),
                new RowDescription(List.of()),
                DataRow.ofText(Arrays.asList("1", null, "", "ü")),
                new DataRow(List.of()),
                new CommandComplete("SELECT 1"),
                new EmptyQueryResponse(),
                ErrorResponse.error(SqlState.SYNTAX_ERROR, "syntax error at or near \"x\"").withDetail("d")
                        .withHint("h").with(BackendMessage.PG_DIAG_STATEMENT_POSITION, "8"),
                NoticeResponse.of(NoticeResponse.WARNING, "01000", "careful"),
                new CopyInResponse(0, new short[] {0, 0}),
                new CopyOutResponse(1, new short[] {1}),
                new CopyBothResponse(0, new short[0]),
                new CopyData("payload".getBytes(StandardCharsets.US_ASCII)),
                new CopyDone(),
                new ParseComplete(),
                new BindComplete(),
                new CloseComplete(),
                new NoData(),
                new PortalSuspended(),
                new ParameterDescription(new int[] {23, 25}),
                new NegotiateProtocolVersion(0, List.of("_pq_.foo")),
                new NotificationResponse(12, "chan", "hello"));
    }

    /** Splits encoded bytes into a frame, checking the length field. */
    static PgFrame frameOf(byte[] bytes, boolean untyped) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (untyped) {
            assertEquals(bytes.length, b.getInt());
            return new PgFrame(PgFrame.UNTYPED, Arrays.copyOfRange(bytes, 4, bytes.length));
        }
        byte type = b.get();
        assertEquals(bytes.length - 1, b.getInt());
        return new PgFrame(type, Arrays.copyOfRange(bytes, 5, bytes.length));
    }

    static boolean untyped(PgMessage m) {
        return m instanceof StartupMessage || m instanceof SSLRequest || m instanceof GSSENCRequest
                || m instanceof CancelRequest;
    }

    static FrontendMessage parseFrontend(PgFrame f, PasswordKind kind) {
        return f.isUntyped() ? FrontendMessage.parseStartup(f)
                : FrontendMessage.parse(f, kind == null ? PasswordKind.NONE : kind);
    }

    @Test
    void frontendRoundTrip() {
        for (Sample s : frontendSamples()) {
            byte[] bytes = s.message().toBytes();
            FrontendMessage back = parseFrontend(frameOf(bytes, untyped(s.message())), s.kind());
            assertEquals(s.message(), back, () -> "round trip of " + s.message());
            assertArrayEquals(bytes, back.toBytes(), () -> "bytes of " + s.message());
        }
    }

    @Test
    void backendRoundTrip() {
        for (BackendMessage m : backendSamples()) {
            byte[] bytes = m.toBytes();
            BackendMessage back = BackendMessage.parse(frameOf(bytes, false));
            assertArrayEquals(bytes, back.toBytes(), () -> "bytes of " + m);
            assertEquals(m.getClass(), back.getClass());
            if (!(m instanceof CopyInResponse || m instanceof CopyOutResponse)) {
                assertEquals(m, back, () -> "round trip of " + m);
            }
        }
    }

    @Test
    void knownBytesOfSomeMessages() {
        // layouts from the protocol documentation, written out by hand
        assertArrayEquals(new byte[] {'Z', 0, 0, 0, 5, 'I'}, new ReadyForQuery(ReadyForQuery.IDLE).toBytes());
        assertArrayEquals(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x2F}, new SSLRequest().toBytes());
        assertArrayEquals(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xD2, 0x16, 0x30}, new GSSENCRequest().toBytes());
        assertArrayEquals(new byte[] {0, 0, 0, 16, 0x04, (byte) 0xD2, 0x16, 0x2E, 0, 0, 0, 1, 0, 0, 0, 2},
                new CancelRequest(1, 2).toBytes());
        assertArrayEquals(new byte[] {'R', 0, 0, 0, 8, 0, 0, 0, 0}, new AuthenticationOk().toBytes());
        assertArrayEquals(new byte[] {'W', 0, 0, 0, 7, 0, 0, 0}, CopyBothResponse.BINARY_STREAM.toBytes());
        assertArrayEquals(new byte[] {'D', 0, 0, 0, 15, 0, 2, 0, 0, 0, 1, '7', -1, -1, -1, -1},
                DataRow.ofText(Arrays.asList("7", null)).toBytes());
        assertArrayEquals(new byte[] {0, 0, 0, 16, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'a', 0, 0},
                new StartupMessage(Map.of("user", "a")).toBytes());
        assertEquals(196608, StartupMessage.PROTOCOL_3_0);
        assertEquals(80877103, SSLRequest.NEGOTIATE_SSL_CODE);
        assertEquals(80877104, GSSENCRequest.NEGOTIATE_GSS_CODE);
        assertEquals(80877102, CancelRequest.CANCEL_REQUEST_CODE);
    }

    /** Messages whose body ends in free-form bytes: any prefix, and extra bytes, are valid. */
    static boolean openEnded(PgMessage m) {
        return m instanceof CopyData || m instanceof SASLResponse || m instanceof AuthenticationSASLContinue
                || m instanceof AuthenticationSASLFinal;
    }

    private static void expectViolation(Runnable r, String what) {
        try {
            r.run();
            fail("expected PgProtocolException for " + what);
        } catch (PgProtocolException e) {
            assertTrue(SqlState.isValid(e.sqlState()));
            assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
        }
    }

    @Test
    void truncatedAndOverlongBodiesAreRefused() {
        for (Sample s : frontendSamples()) {
            PgFrame f = frameOf(s.message().toBytes(), untyped(s.message()));
            if (openEnded(s.message())) {
                continue;
            }
            for (int len = 0; len < f.body().length; len++) {
                PgFrame cut = new PgFrame(f.type(), Arrays.copyOf(f.body(), len));
                expectViolation(() -> parseFrontend(cut, s.kind()), "truncated " + s.message() + " at " + len);
            }
            PgFrame longer = new PgFrame(f.type(), Arrays.copyOf(f.body(), f.body().length + 1));
            if (!(s.message() instanceof SASLInitialResponse sr && sr.data() == null)) {
                expectViolation(() -> parseFrontend(longer, s.kind()), "overlong " + s.message());
            }
        }
        for (BackendMessage m : backendSamples()) {
            PgFrame f = frameOf(m.toBytes(), false);
            if (openEnded(m)) {
                continue;
            }
            for (int len = 0; len < f.body().length; len++) {
                PgFrame cut = new PgFrame(f.type(), Arrays.copyOf(f.body(), len));
                final int l = len;
                expectViolation(() -> BackendMessage.parse(cut), "truncated " + m + " at " + l);
            }
            PgFrame longer = new PgFrame(f.type(), Arrays.copyOf(f.body(), f.body().length + 1));
            expectViolation(() -> BackendMessage.parse(longer), "overlong " + m);
        }
    }

    @Test
    void unknownTypeBytesAreRefused() {
        Set<Character> frontend = Set.of('Q', 'X', 'd', 'c', 'f', 'p', 'S', 'H', 'P', 'B', 'D', 'E', 'C');
        Set<Character> backend = Set.of('R', 'S', 'K', 'Z', 'T', 'D', 'C', 'I', 'E', 'N', 'G', 'H', 'W', 'd', 'c',
                '1', '2', '3', 'n', 's', 't', 'v', 'A');
        for (int t = 1; t < 256; t++) {
            PgFrame f = new PgFrame((byte) t, new byte[0]);
            if (!frontend.contains((char) t)) {
                PgProtocolException e = assertThrows(PgProtocolException.class, () -> FrontendMessage.parse(f));
                assertEquals(t == 'F' ? SqlState.FEATURE_NOT_SUPPORTED : SqlState.PROTOCOL_VIOLATION, e.sqlState());
            }
            if (!backend.contains((char) t)) {
                PgProtocolException e = assertThrows(PgProtocolException.class, () -> BackendMessage.parse(f));
                assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
            }
        }
    }

    @Test
    void passwordMessageOutsideAuthenticationIsRefused() {
        PgFrame f = frameOf(new PasswordMessage("x").toBytes(), false);
        PgProtocolException e = assertThrows(PgProtocolException.class, () -> FrontendMessage.parse(f));
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
    }

    @Test
    void stringsWithoutNulAreRefused() {
        byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
        for (char t : new char[] {'Q', 'f'}) {
            PgProtocolException e = assertThrows(PgProtocolException.class,
                    () -> FrontendMessage.parse(new PgFrame((byte) t, abc)));
            assertTrue(e.getMessage().contains("invalid string in message"), e.getMessage());
        }
        assertThrows(PgProtocolException.class, () -> BackendMessage.parse(new PgFrame((byte) 'C', abc)));
        assertThrows(PgProtocolException.class, () -> BackendMessage.parse(new PgFrame((byte) 'S', "a\0b".getBytes())));
        assertThrows(PgProtocolException.class, () -> BackendMessage.parse(new PgFrame((byte) 'E', "Mxx".getBytes())));
    }

    @Test
    void invalidUtf8IsRefused() {
        PgProtocolException e = assertThrows(PgProtocolException.class,
                () -> FrontendMessage.parse(new PgFrame((byte) 'Q', new byte[] {(byte) 0xC3, 0x28, 0})));
        assertEquals(SqlState.CHARACTER_NOT_IN_REPERTOIRE, e.sqlState());
    }

    @Test
    void badFieldValuesAreRefused() {
        // Describe/Close kind
        expectViolation(() -> FrontendMessage.parse(new PgFrame((byte) 'D', new byte[] {'X', 0})), "describe kind");
        expectViolation(() -> FrontendMessage.parse(new PgFrame((byte) 'C', new byte[] {'Q', 0})), "close kind");
        // Bind with format code 2
        byte[] bind = new Bind("", "", new short[] {2}, List.of(), new short[0]).toBytes();
        expectViolation(() -> FrontendMessage.parse(frameOf(bind, false)), "bind format 2");
        // Bind with parameter length -2
        byte[] b2 = new Bind("", "", new short[0], List.of(new byte[] {1}), new short[0]).toBytes();
        ByteBuffer.wrap(b2).putInt(5 + 2 + 2 + 2, -2);
        expectViolation(() -> FrontendMessage.parse(frameOf(b2, false)), "bind param length -2");
        // Bind with 3 formats for 1 parameter
        // DataRow with negative count and with length -2
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 'D', new byte[] {(byte) 0xFF, (byte) 0xFF})),
                "negative column count");
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 'D', new byte[] {0, 1, -1, -1, -1, -2})),
                "column length -2");
        // DataRow claiming 30000 columns in 6 bytes: refused without allocating
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 'D', new byte[] {0x75, 0x30, 0, 0, 0, 0})),
                "too many columns");
        // ReadyForQuery status
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 'Z', new byte[] {'Q'})), "rfq status");
        // copy response overall format 2
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 'W', new byte[] {2, 0, 0})), "copy format");
        // SASLInitialResponse whose length disagrees with the rest
        expectViolation(() -> FrontendMessage.parse(new PgFrame((byte) 'p',
                new byte[] {'M', 0, 0, 0, 0, 9, 'a'}), PasswordKind.SASL_INITIAL), "sasl length");
        // ParameterDescription count mismatch
        expectViolation(() -> BackendMessage.parse(new PgFrame((byte) 't', new byte[] {0, 2, 0, 0, 0, 23})),
                "param description");
    }

    @Test
    void unsupportedAuthenticationCodes() {
        for (int code : new int[] {2, 6, 7, 8, 9, 99}) {
            PgProtocolException e = assertThrows(PgProtocolException.class,
                    () -> BackendMessage.parse(new PgFrame((byte) 'R', ByteBuffer.allocate(4).putInt(code).array())));
            assertEquals(SqlState.FEATURE_NOT_SUPPORTED, e.sqlState());
        }
    }

    @Test
    void startupPacketGarbage() {
        // protocol 2.0
        PgProtocolException e = assertThrows(PgProtocolException.class, () -> FrontendMessage.parseStartup(
                new PgFrame(PgFrame.UNTYPED, new byte[] {0, 2, 0, 0, 0})));
        assertEquals(SqlState.FEATURE_NOT_SUPPORTED, e.sqlState());
        assertTrue(e.getMessage().contains("unsupported frontend protocol 2.0"), e.getMessage());
        // missing final terminator
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED,
                new byte[] {0, 3, 0, 0, 'u', 0, 'a', 0})), "no terminator");
        // name without value
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED,
                new byte[] {0, 3, 0, 0, 'u', 0})), "no value");
        // terminator in the middle
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED,
                new byte[] {0, 3, 0, 0, 0, 'x', 0})), "early terminator");
        // SSLRequest with extra bytes, CancelRequest too short
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED,
                new byte[] {0x04, (byte) 0xD2, 0x16, 0x2F, 0})), "long ssl request");
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED,
                new byte[] {0x04, (byte) 0xD2, 0x16, 0x2E, 0, 0, 0, 1})), "short cancel");
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame(PgFrame.UNTYPED, new byte[] {0, 3})),
                "two bytes");
        // a typed frame is not a startup packet
        expectViolation(() -> FrontendMessage.parseStartup(new PgFrame((byte) 'Q', new byte[] {0})), "typed");
        // minimal valid: no parameters
        StartupMessage s = (StartupMessage) FrontendMessage.parseStartup(
                new PgFrame(PgFrame.UNTYPED, new byte[] {0, 3, 0, 0, 0}));
        assertTrue(s.parameters().isEmpty());
        assertNull(s.user());
    }

    @Test
    void startupDatabaseDefaultsToUser() {
        assertEquals("bob", new StartupMessage(Map.of("user", "bob")).database());
        assertEquals("db", new StartupMessage(Map.of("user", "bob", "database", "db")).database());
    }

    @Test
    void errorResponseAccessors() {
        ErrorResponse e = ErrorResponse.fatal(SqlState.INVALID_PASSWORD, "password authentication failed for user \"x\"");
        ErrorResponse back = (ErrorResponse) BackendMessage.parse(frameOf(e.toBytes(), false));
        assertEquals("FATAL", back.severity());
        assertEquals("28P01", back.sqlState());
        assertEquals("password authentication failed for user \"x\"", back.message());
        assertNull(back.detail());
        assertThrows(IllegalArgumentException.class, () -> ErrorResponse.error("bad", "x"));
    }

    /**
     * Fuzzing found it: an ErrorResponse from a server with a field code above 0x7F parsed, but
     * writing it again (as a proxy of the primary's error would) threw IllegalArgumentException.
     */
    @Test
    void anErrorFieldCodeAbove0x7FIsWrittenBackAsItCame() {
        byte[] body = {(byte) 0xD3, 'x', 0, 'M', 'm', 0, 0};
        ErrorResponse e = ErrorResponse.parse(body);
        byte[] wire = e.toBytes();
        assertArrayEquals(body, java.util.Arrays.copyOfRange(wire, 5, wire.length));
    }

    @Test
    void writerRefusesNulInStrings() {
        assertThrows(IllegalArgumentException.class, () -> new Query("a\0b").toBytes());
    }
}
