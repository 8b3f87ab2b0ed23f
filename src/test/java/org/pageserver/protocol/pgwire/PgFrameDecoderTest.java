package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

class PgFrameDecoderTest {

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    private static final byte[] STARTUP = new FrontendMessage.StartupMessage(Map.of("user", "alice")).toBytes();
    private static final byte[] QUERY = new FrontendMessage.Query("select 1").toBytes();
    private static final byte[] SYNC = new FrontendMessage.Sync().toBytes();

    @Test
    void startupThenTypedFramesFedOneByteAtATime() {
        byte[] stream = concat(STARTUP, QUERY, SYNC);
        PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
        List<PgFrame> frames = new ArrayList<>();
        for (byte b : stream) {
            d.feed(new byte[] {b});
            PgFrame f;
            while ((f = d.next()) != null) {
                frames.add(f);
            }
        }
        assertEquals(3, frames.size());
        assertTrue(frames.get(0).isUntyped());
        assertEquals(Map.of("user", "alice"),
                ((FrontendMessage.StartupMessage) FrontendMessage.parseStartup(frames.get(0))).parameters());
        assertEquals('Q', frames.get(1).type());
        assertEquals(new FrontendMessage.Query("select 1"), FrontendMessage.parse(frames.get(1)));
        assertEquals(new FrontendMessage.Sync(), FrontendMessage.parse(frames.get(2)));
        assertEquals(0, d.buffered());
    }

    @Test
    void manyFramesInOneChunkAndAByteBuffer() {
        byte[] stream = concat(STARTUP, QUERY, QUERY, SYNC, new byte[] {'Q', 0});
        PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
        d.feed(ByteBuffer.wrap(stream));
        assertTrue(d.next().isUntyped());
        assertEquals('Q', d.next().type());
        assertEquals('Q', d.next().type());
        assertEquals('S', d.next().type());
        assertNull(d.next()); // partial header
        assertEquals(2, d.buffered());
    }

    @Test
    void sslAndGssRequestsKeepStartupModeUntilTheStartupMessage() {
        byte[] ssl = new FrontendMessage.SSLRequest().toBytes();
        byte[] gss = new FrontendMessage.GSSENCRequest().toBytes();
        PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
        d.feed(concat(ssl, gss, STARTUP, QUERY));
        assertTrue(d.inStartupMode());
        assertEquals(new FrontendMessage.SSLRequest(), FrontendMessage.parseStartup(d.next()));
        assertTrue(d.inStartupMode());
        assertEquals(new FrontendMessage.GSSENCRequest(), FrontendMessage.parseStartup(d.next()));
        assertTrue(d.inStartupMode());
        assertTrue(d.next().isUntyped());
        assertFalse(d.inStartupMode());
        assertEquals('Q', d.next().type());
    }

    @Test
    void cancelRequestIsUntyped() {
        PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
        d.feed(new FrontendMessage.CancelRequest(1234, -5).toBytes());
        assertEquals(new FrontendMessage.CancelRequest(1234, -5), FrontendMessage.parseStartup(d.next()));
    }

    @Test
    void startupLengthOutOfRangeIsProtocolViolation() {
        for (int len : new int[] {0, 3, 4, 7, 10001, Integer.MAX_VALUE, -1}) {
            PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
            d.feed(ByteBuffer.allocate(4).putInt(len).array());
            PgProtocolException e = assertThrows(PgProtocolException.class, d::next, "len " + len);
            assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
            assertTrue(e.getMessage().contains("invalid length of startup packet"), e.getMessage());
        }
    }

    @Test
    void queryBeforeStartupIsRefusedByLength() {
        // 'Q' 0 0 0 read as a startup length is 0x51000000: far too long
        PgFrameDecoder d = PgFrameDecoder.forServer(1 << 20);
        d.feed(QUERY);
        PgProtocolException e = assertThrows(PgProtocolException.class, d::next);
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
    }

    @Test
    void typedLengthBelowFourIsProtocolViolation() {
        for (int len : new int[] {0, 1, 3, -1, Integer.MIN_VALUE}) {
            PgFrameDecoder d = PgFrameDecoder.forClient(1 << 20);
            d.feed(ByteBuffer.allocate(5).put((byte) 'Z').putInt(len).array());
            PgProtocolException e = assertThrows(PgProtocolException.class, d::next);
            assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
            assertTrue(e.getMessage().contains("invalid message length"), e.getMessage());
        }
    }

    @Test
    void oversizedMessageIsRefusedBeforeItsBodyArrives() {
        PgFrameDecoder d = PgFrameDecoder.forClient(1000);
        d.feed(ByteBuffer.allocate(5).put((byte) 'd').putInt(1005).array());
        PgProtocolException e = assertThrows(PgProtocolException.class, d::next);
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
        assertTrue(e.getMessage().contains("invalid message length 1005"), e.getMessage());
        // exactly at the limit is fine
        PgFrameDecoder ok = PgFrameDecoder.forClient(1000);
        ok.feed(ByteBuffer.allocate(5 + 1000).put((byte) 'd').putInt(1004).array());
        assertEquals(1000, ok.next().body().length);
    }

    private static byte[] header(char type, int length) {
        return ByteBuffer.allocate(5).put((byte) type).putInt(length).array();
    }

    /** Only a message's header is fed: the decoder decides from it alone. */
    private static PgProtocolException refusedFromHeader(MessageLimits limits, char type, int length) {
        PgFrameDecoder d = PgFrameDecoder.forServer(limits);
        d.feed(STARTUP);
        assertTrue(d.next().isUntyped());
        d.feed(header(type, length));
        PgProtocolException e = assertThrows(PgProtocolException.class, d::next, type + " of length " + length);
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState(), e.getMessage());
        assertEquals(5, d.buffered());
        return e;
    }

    private static boolean takenUpTo(MessageLimits limits, char type, int body) {
        PgFrameDecoder d = PgFrameDecoder.forServer(limits);
        d.feed(STARTUP);
        d.next();
        d.feed(header(type, body + 4));
        d.feed(new byte[body]);
        return d.next().body().length == body;
    }

    @Test
    void sessionLimitsArePostgresBoundsPerMessageType() {
        MessageLimits session = MessageLimits.session(4096);
        for (char big : new char[] {'Q', 'P', 'B', 'F', 'd'}) {
            assertTrue(takenUpTo(session, big, 4096));
            assertTrue(refusedFromHeader(session, big, 4096 + 5).getMessage().contains("invalid message length 4101"));
        }
        for (char small : new char[] {'S', 'H', 'X', 'C', 'D', 'E', 'c', 'f'}) {
            assertTrue(takenUpTo(session, small, MessageLimits.SMALL_MESSAGE_BODY));
            refusedFromHeader(session, small, 10001);
        }
        // a Sync claiming 1 GB is refused just as a Query past the configured bound is
        refusedFromHeader(session, 'S', 1 << 30);
        refusedFromHeader(MessageLimits.session(1 << 20), 'Q', 1 << 30);
    }

    @Test
    void typesNotTakenInAStateAreRefusedFromTheirHeader() {
        PgProtocolException e = refusedFromHeader(MessageLimits.session(4096), 'z', 4);
        assertEquals("invalid frontend message type 122 ('z') in a session", e.getMessage());
        refusedFromHeader(MessageLimits.session(4096), 'p', 8);
        refusedFromHeader(MessageLimits.authentication(), 'Q', 13);
        refusedFromHeader(MessageLimits.copyIn(27), 'Q', 13);
        refusedFromHeader(MessageLimits.copyIn(27), 'P', 13);
    }

    @Test
    void authenticationTakesSaslMessagesUpToTheAuthTokenLength() {
        MessageLimits auth = MessageLimits.authentication();
        assertTrue(takenUpTo(auth, 'p', 65531));
        refusedFromHeader(auth, 'p', 65536);
        assertTrue(takenUpTo(auth, 'X', 0));
    }

    @Test
    void copyInBoundsCopyDataByTheCopysOwnLimit() {
        MessageLimits copy = MessageLimits.copyIn(27);
        assertTrue(takenUpTo(copy, 'd', 27));
        assertTrue(refusedFromHeader(copy, 'd', 32).getMessage().contains("at most 27 bytes during COPY"));
        for (char t : new char[] {'c', 'f', 'H', 'S', 'X'}) {
            assertTrue(takenUpTo(copy, t, 0));
        }
    }

    @Test
    void startupPacketPastPostgresMaximumIsRefusedFromItsLength() {
        PgFrameDecoder d = PgFrameDecoder.forServer(MessageLimits.authentication());
        d.feed(ByteBuffer.allocate(4).putInt(PgFrameDecoder.MAX_STARTUP_PACKET_LENGTH + 1).array());
        PgProtocolException e = assertThrows(PgProtocolException.class, d::next);
        assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState());
        PgFrameDecoder ok = PgFrameDecoder.forServer(MessageLimits.authentication());
        byte[] max = ByteBuffer.allocate(PgFrameDecoder.MAX_STARTUP_PACKET_LENGTH)
                .putInt(PgFrameDecoder.MAX_STARTUP_PACKET_LENGTH).putInt(196608).array();
        ok.feed(max);
        assertEquals(PgFrameDecoder.MAX_STARTUP_PACKET_LENGTH - 4, ok.next().body().length);
    }

    @Test
    void newLimitsApplyFromTheNextFrame() {
        PgFrameDecoder d = PgFrameDecoder.forServer(MessageLimits.authentication());
        d.feed(STARTUP);
        d.next();
        d.limits(MessageLimits.session(4096));
        d.feed(QUERY);
        assertEquals('Q', d.next().type());
        d.limits(MessageLimits.copyIn(27));
        d.feed(QUERY);
        assertThrows(PgProtocolException.class, d::next);
    }

    @Test
    void hugeDeclaredLengthDoesNotAllocate() {
        PgFrameDecoder d = PgFrameDecoder.forClient(Integer.MAX_VALUE);
        d.feed(ByteBuffer.allocate(5).put((byte) 'd').putInt(Integer.MAX_VALUE).array());
        assertNull(d.next()); // waits for data, allocates nothing up front
        assertEquals(5, d.buffered());
    }

    @Test
    void zeroTypeByteIsRefused() {
        PgFrameDecoder d = PgFrameDecoder.forClient(1000);
        d.feed(new byte[] {0, 0, 0, 0, 4});
        assertThrows(PgProtocolException.class, d::next);
    }

    @Test
    void errorsArePoisonous() {
        PgFrameDecoder d = PgFrameDecoder.forClient(1000);
        d.feed(new byte[] {'Z', 0, 0, 0, 1});
        PgProtocolException first = assertThrows(PgProtocolException.class, d::next);
        d.feed(new FrontendMessage.Sync().toBytes());
        assertSame(first, assertThrows(PgProtocolException.class, d::next));
    }

    @Test
    void clientReadsSslAnswerByteThenFrames() {
        PgFrameDecoder d = PgFrameDecoder.forClient(1000);
        d.feed(concat(new byte[] {'N'}, new BackendMessage.ReadyForQuery((byte) 'I').toBytes()));
        assertEquals('N', d.nextByte());
        assertEquals(new BackendMessage.ReadyForQuery((byte) 'I'), BackendMessage.parse(d.next()));
        assertEquals(-1, d.nextByte());
    }

    @Test
    void bodyBytesAreExact() {
        byte[] payload = new byte[70000];
        new Random(1).nextBytes(payload);
        byte[] msg = new CopyData(payload).toBytes();
        PgFrameDecoder d = PgFrameDecoder.forClient(1 << 20);
        d.feed(msg, 0, 1000);
        assertNull(d.next());
        d.feed(msg, 1000, msg.length - 1000);
        assertArrayEquals(payload, d.next().body());
    }

    /** Random garbage: only PgProtocolException or frames, never anything else, always terminates. */
    @Test
    void randomGarbageNeverEscapesAsOtherExceptions() {
        Random r = new Random(42);
        for (int round = 0; round < 2000; round++) {
            byte[] junk = new byte[r.nextInt(64)];
            r.nextBytes(junk);
            PgFrameDecoder d = round % 2 == 0 ? PgFrameDecoder.forServer(4096) : PgFrameDecoder.forClient(4096);
            d.feed(junk);
            try {
                int frames = 0;
                PgFrame f;
                while ((f = d.next()) != null) {
                    frames++;
                    assertTrue(frames <= junk.length);
                    try {
                        if (f.isUntyped()) {
                            FrontendMessage.parseStartup(f);
                        } else if (round % 2 == 0) {
                            FrontendMessage.parse(f, FrontendMessage.PasswordKind.SASL_INITIAL);
                        } else {
                            BackendMessage.parse(f);
                        }
                    } catch (PgProtocolException expected) {
                        // fine
                    }
                }
            } catch (PgProtocolException expected) {
                // fine
            }
        }
    }
}
