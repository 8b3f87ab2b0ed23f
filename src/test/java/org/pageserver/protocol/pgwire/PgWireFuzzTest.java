package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.pageserver.fuzz.FuzzChecks;

/**
 * Fuzz targets for everything a client (or, for the client side, a primary) sends over the
 * PostgreSQL wire protocol: frames cut out of random chunk splits, every frontend and backend
 * message, the SCRAM exchanges of both sides, SASLprep, stored SCRAM secrets, the startup
 * "options" parameter and libpq connection strings. Each asserts that only the decoder's own
 * error escapes ({@link PgProtocolException} with its SQLSTATE, or IllegalArgumentException where
 * that is what the parser declares), that allocation stays proportional to the input, and that
 * what is decoded re-encodes to the same message.
 *
 * <p>In the ordinary test run each replays its corpus under
 * {@code src/test/resources/org/pageserver/protocol/pgwire/PgWireFuzzTestInputs/<method>/};
 * {@code bench/fuzz.sh} fuzzes them.
 */
class PgWireFuzzTest {

    /**
     * Input: byte 0 picks what a 'p' message is (the authentication state), bytes 1..4 seed the
     * chunk split, the rest is what a client sends a server from the first byte of the
     * connection on.
     */
    @FuzzTest(maxDuration = "60s")
    void serverFrames(byte[] input) throws Exception {
        if (input.length < 5) {
            return;
        }
        FrontendMessage.PasswordKind kind = FrontendMessage.PasswordKind.values()[(input[0] & 0xFF) % 4];
        long seed = ((input[1] & 0xFFL) << 24) | ((input[2] & 0xFF) << 16) | ((input[3] & 0xFF) << 8) | (input[4] & 0xFF);
        FuzzChecks.boundedAllocation(input.length, () -> {
            PgFrameDecoder d = PgFrameDecoder.forServer(PgFrameDecoder.DEFAULT_SERVER_MAX_MESSAGE_SIZE);
            int off = 5;
            try {
                for (int chunk : FuzzChecks.chunkSizes(seed, input.length - 5)) {
                    d.feed(input, off, chunk);
                    off += chunk;
                    PgFrame f;
                    while ((f = d.next()) != null) {
                        FrontendMessage m = FrontendMessage.parse(f, kind);
                        assertEquals(m, reparseFrontend(m, f.isUntyped(), kind), "re-encoded " + m);
                    }
                }
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
        });
    }

    private static FrontendMessage reparseFrontend(FrontendMessage m, boolean untyped,
                                                   FrontendMessage.PasswordKind kind) {
        byte[] wire = m.toBytes();
        PgFrameDecoder d = untyped ? PgFrameDecoder.forServer(PgFrameDecoder.DEFAULT_SERVER_MAX_MESSAGE_SIZE)
            : PgFrameDecoder.forClient(PgFrameDecoder.DEFAULT_SERVER_MAX_MESSAGE_SIZE);
        d.feed(wire);
        PgFrame f = d.next();
        assertNotNull(f, "one whole frame from " + m);
        assertEquals(0, d.buffered(), "nothing after the frame of " + m);
        return FrontendMessage.parse(f, kind);
    }

    /**
     * Input: bytes 0..3 seed the chunk split, the rest is what a server sends its client (the
     * pageserver reading a primary).
     */
    @FuzzTest(maxDuration = "60s")
    void clientFrames(byte[] input) throws Exception {
        if (input.length < 4) {
            return;
        }
        long seed = ((input[0] & 0xFFL) << 24) | ((input[1] & 0xFF) << 16) | ((input[2] & 0xFF) << 8) | (input[3] & 0xFF);
        FuzzChecks.boundedAllocation(input.length, () -> {
            PgFrameDecoder d = PgFrameDecoder.forClient(PgFrameDecoder.DEFAULT_CLIENT_MAX_MESSAGE_SIZE);
            int off = 4;
            try {
                for (int chunk : FuzzChecks.chunkSizes(seed, input.length - 4)) {
                    d.feed(input, off, chunk);
                    off += chunk;
                    PgFrame f;
                    while ((f = d.next()) != null) {
                        BackendMessage m = BackendMessage.parse(f);
                        PgFrameDecoder again = PgFrameDecoder.forClient(PgFrameDecoder.DEFAULT_CLIENT_MAX_MESSAGE_SIZE);
                        again.feed(m.toBytes());
                        assertEquals(m, BackendMessage.parse(again.next()), "re-encoded " + m);
                    }
                }
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
        });
    }

    /**
     * Input: a client-first-message and a client-final-message separated by the first NUL, given
     * to the server side of a SCRAM exchange (read_client_first_message, read_client_final_message).
     */
    @FuzzTest(maxDuration = "60s")
    void scramServerExchange(byte[] input) throws Exception {
        int nul = indexOf(input, (byte) 0);
        byte[] first = nul < 0 ? input : Arrays.copyOfRange(input, 0, nul);
        byte[] last = nul < 0 ? new byte[0] : Arrays.copyOfRange(input, nul + 1, input.length);
        FuzzChecks.boundedAllocation(input.length, () -> {
            Scram.ServerExchange server = Scram.ServerExchange.forSecret(SECRET, "serverNonce");
            try {
                server.handleClientFirst(first);
                server.handleClientFinal(last);
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
        });
    }

    /** A stored secret with few iterations, so that a fuzzed proof is checked quickly. */
    private static final Scram.Secret SECRET = Scram.Secret.build("secret", "salt-of-16-bytes".getBytes(StandardCharsets.US_ASCII), 2);

    /**
     * Input: a server-first-message and a server-final-message separated by the first NUL,
     * given to the client side (the pageserver authenticating to a primary).
     */
    @FuzzTest(maxDuration = "60s")
    void scramClientExchange(byte[] input) throws Exception {
        int nul = indexOf(input, (byte) 0);
        byte[] first = nul < 0 ? input : Arrays.copyOfRange(input, 0, nul);
        byte[] last = nul < 0 ? new byte[0] : Arrays.copyOfRange(input, nul + 1, input.length);
        java.util.regex.Matcher i = ITERATIONS.matcher(new String(first, StandardCharsets.ISO_8859_1));
        if (i.find() && i.group(1).length() < 10 && Integer.parseInt(i.group(1)) > Scram.SCRAM_DEFAULT_ITERATIONS
            && Integer.parseInt(i.group(1)) <= Scram.MAX_CLIENT_ITERATIONS) {
            // a count the client accepts costs hashing (and its garbage) in proportion, by design
            // (up to MAX_CLIENT_ITERATIONS, ScramTest); the fuzzer's time is better spent on parsing
            return;
        }
        FuzzChecks.boundedAllocation(input.length, () -> {
            Scram.Client client = new Scram.Client("secret", "", "clientNonce");
            client.clientFirstMessage();
            try {
                client.clientFinalMessage(first);
                client.verifyServerFinal(last);
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
        });
    }

    private static final java.util.regex.Pattern ITERATIONS = java.util.regex.Pattern.compile(",i=([0-9]+)");

    /** SASLprep never throws: it prepares the password or says why it cannot. */
    @FuzzTest(maxDuration = "60s")
    void saslPrep(byte[] input) throws Exception {
        String s = new String(input, StandardCharsets.UTF_8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            SaslPrep.Result r = SaslPrep.prepare(s);
            assertEquals(r.ok(), r.failure() == null, "exactly one of prepared and failure: " + r);
        });
    }

    /** A stored SCRAM secret parses or is refused with IllegalArgumentException; a parsed one prints back. */
    @FuzzTest(maxDuration = "60s")
    void scramSecret(byte[] input) throws Exception {
        String s = new String(input, StandardCharsets.UTF_8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            Scram.Secret secret;
            try {
                secret = Scram.Secret.parse(s);
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass());
                return;
            }
            assertEquals(secret, Scram.Secret.parse(secret.toString()));
        });
    }

    /** The startup packet's "options" and "replication" values: 22023 or 42601 when bad. */
    @FuzzTest(maxDuration = "60s")
    void startupOptions(byte[] input) throws Exception {
        String s = new String(input, StandardCharsets.UTF_8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            try {
                StartupOptions.settings(s);
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
            try {
                StartupOptions.replication(s);
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
            StartupOptions.parseBool(s);
        });
    }

    /** libpq connection strings (keyword/value and URI): IllegalArgumentException when bad; printing round-trips. */
    @FuzzTest(maxDuration = "60s")
    void connInfo(byte[] input) throws Exception {
        String s = new String(input, StandardCharsets.UTF_8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            ConnInfo c;
            try {
                c = ConnInfo.parse(s);
                c.hosts();
                c.port();
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass(), String.valueOf(e));
                return;
            }
            assertEquals(c, ConnInfo.parse(c.toConnString()), "re-printed " + c.toConnString());
        });
    }

    private static int indexOf(byte[] b, byte v) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        return -1;
    }
}
