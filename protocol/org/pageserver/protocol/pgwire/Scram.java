package org.pageserver.protocol.pgwire;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) the way PostgreSQL 15 speaks it: no channel binding (gs2
 * header {@code "n,,"}; {@code "y,,"} accepted from clients since we offer no TLS), the user name
 * in the SCRAM messages is ignored (PostgreSQL takes it from the startup packet), passwords go
 * through {@link SaslPrep} first.
 *
 * <pre>
 *   client-first-message  = gs2-header client-first-message-bare
 *   gs2-header            = "n,,"                          (no channel binding, no authzid)
 *   client-first-bare     = "n=" username ",r=" c-nonce     (libpq sends an empty username)
 *   server-first-message  = "r=" c-nonce s-nonce ",s=" base64(salt) ",i=" iterations
 *   client-final-message  = "c=biws,r=" c-nonce s-nonce ",p=" base64(ClientProof)
 *   server-final-message  = "v=" base64(ServerSignature)
 *
 *   SaltedPassword  = Hi(SASLprep(password), salt, i)       (PBKDF2-HMAC-SHA-256, one block)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")    StoredKey = H(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   AuthMessage     = client-first-bare "," server-first-message "," client-final-without-proof
 *   ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 * </pre>
 *
 * {@link Secret} is PostgreSQL's stored verifier ({@code pg_authid.rolpassword}); {@link Client}
 * is the frontend side (libpq's fe-auth-scram.c), {@link ServerExchange} the backend side
 * (auth-scram.c). Malformed messages throw {@link PgProtocolException} (08P01 as PostgreSQL).
 */
public final class Scram {

    private Scram() {
    }

    public static final String SCRAM_SHA_256_NAME = "SCRAM-SHA-256";
    public static final String SCRAM_SHA_256_PLUS_NAME = "SCRAM-SHA-256-PLUS";
    /** Length of keys and of the SHA-256 digest (SCRAM_KEY_LEN, scram-common.h). */
    public static final int SCRAM_KEY_LEN = 32;
    /** Random bytes in a nonce before base64 (SCRAM_RAW_NONCE_LEN). */
    public static final int SCRAM_RAW_NONCE_LEN = 18;
    public static final int SCRAM_DEFAULT_SALT_LEN = 16;
    public static final int SCRAM_DEFAULT_ITERATIONS = 4096;

    private static final SecureRandom RANDOM = new SecureRandom();
    /** Key for mock salts of unknown users, stable for the life of this process (PG: mock_auth_nonce). */
    private static final byte[] MOCK_AUTH_KEY = randomBytes(32);

    // ------------------------------------------------------------------ stored secret

    /**
     * A SCRAM secret in PostgreSQL's format,
     * {@code SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>}
     * (scram_build_secret / parse_scram_secret, auth-scram.c).
     */
    public record Secret(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {

        public Secret {
            if (iterations <= 0) {
                throw new IllegalArgumentException("SCRAM iteration count must be positive: " + iterations);
            }
            if (salt.length == 0) {
                throw new IllegalArgumentException("SCRAM salt is empty");
            }
            if (storedKey.length != SCRAM_KEY_LEN || serverKey.length != SCRAM_KEY_LEN) {
                throw new IllegalArgumentException("SCRAM keys must be " + SCRAM_KEY_LEN + " bytes");
            }
            salt = salt.clone();
            storedKey = storedKey.clone();
            serverKey = serverKey.clone();
        }

        @Override
        public byte[] salt() {
            return salt.clone();
        }

        @Override
        public byte[] storedKey() {
            return storedKey.clone();
        }

        @Override
        public byte[] serverKey() {
            return serverKey.clone();
        }

        /** True if {@code text} looks like a SCRAM secret (get_password_type's test). */
        public static boolean isScramSecret(String text) {
            try {
                parse(text);
                return true;
            } catch (IllegalArgumentException e) {
                return false;
            }
        }

        /** Parses PostgreSQL's format; throws IllegalArgumentException saying what is wrong. */
        public static Secret parse(String text) {
            if (text == null) {
                throw new IllegalArgumentException("SCRAM secret is null");
            }
            String[] parts = text.split("\\$", -1);
            if (parts.length != 3 || !parts[0].equals(SCRAM_SHA_256_NAME)) {
                throw new IllegalArgumentException(
                        "invalid SCRAM secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
            }
            String[] is = parts[1].split(":", -1);
            String[] keys = parts[2].split(":", -1);
            if (is.length != 2 || keys.length != 2) {
                throw new IllegalArgumentException(
                        "invalid SCRAM secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
            }
            int iterations;
            try {
                iterations = Integer.parseInt(is[0]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid SCRAM secret: bad iteration count \"" + is[0] + "\"");
            }
            if (iterations <= 0) {
                throw new IllegalArgumentException("invalid SCRAM secret: bad iteration count \"" + is[0] + "\"");
            }
            byte[] salt = b64decode(is[1], "salt");
            byte[] stored = b64decode(keys[0], "StoredKey");
            byte[] server = b64decode(keys[1], "ServerKey");
            if (salt.length == 0) {
                throw new IllegalArgumentException("invalid SCRAM secret: empty salt");
            }
            if (stored.length != SCRAM_KEY_LEN || server.length != SCRAM_KEY_LEN) {
                throw new IllegalArgumentException("invalid SCRAM secret: keys must be " + SCRAM_KEY_LEN + " bytes");
            }
            return new Secret(iterations, salt, stored, server);
        }

        private static byte[] b64decode(String s, String what) {
            try {
                return Base64.getDecoder().decode(s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("invalid SCRAM secret: " + what + " is not valid base64");
            }
        }

        /** A secret with a random 16-byte salt and 4096 iterations, as pg_be_scram_build_secret. */
        public static Secret build(String password) {
            return build(password, randomBytes(SCRAM_DEFAULT_SALT_LEN), SCRAM_DEFAULT_ITERATIONS);
        }

        /** scram_build_secret: the secret for {@code password} with the given salt and iteration count. */
        public static Secret build(String password, byte[] salt, int iterations) {
            byte[] salted = saltedPassword(password, salt, iterations);
            byte[] clientKey = hmac(salted, "Client Key".getBytes(StandardCharsets.US_ASCII));
            byte[] serverKey = hmac(salted, "Server Key".getBytes(StandardCharsets.US_ASCII));
            return new Secret(iterations, salt, sha256(clientKey), serverKey);
        }

        /** scram_verify_plain_password: does {@code password} produce this secret's ServerKey? */
        public boolean verifyPlainPassword(String password) {
            byte[] salted = saltedPassword(password, salt, iterations);
            byte[] computed = hmac(salted, "Server Key".getBytes(StandardCharsets.US_ASCII));
            return MessageDigest.isEqual(computed, serverKey);
        }

        /** PostgreSQL's text format, as stored in pg_authid.rolpassword. */
        @Override
        public String toString() {
            Base64.Encoder e = Base64.getEncoder();
            return SCRAM_SHA_256_NAME + "$" + iterations + ":" + e.encodeToString(salt) + "$"
                    + e.encodeToString(storedKey) + ":" + e.encodeToString(serverKey);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Secret s && s.iterations == iterations && Arrays.equals(s.salt, salt)
                    && Arrays.equals(s.storedKey, storedKey) && Arrays.equals(s.serverKey, serverKey);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(storedKey);
        }
    }

    // ------------------------------------------------------------------ client side

    /**
     * The frontend side of one exchange (fe-auth-scram.c): {@link #clientFirstMessage()}, then
     * {@link #clientFinalMessage(byte[])} with the server-first-message from
     * AuthenticationSASLContinue, then {@link #verifyServerFinal(byte[])} with the data of
     * AuthenticationSASLFinal. Not thread-safe; one instance per exchange.
     */
    public static final class Client {
        private final String password;
        private final String username;
        private final String clientNonce;
        private String clientFirstBare;
        private byte[] serverSignature;

        /** A client with a random nonce and an empty SCRAM user name, as libpq. */
        public Client(String password) {
            this(password, "", randomNonce());
        }

        /** For tests and fixed vectors: explicit user name (for the n= attribute) and nonce. */
        public Client(String password, String username, String clientNonce) {
            if (!isPrintable(clientNonce) || clientNonce.isEmpty()) {
                throw new IllegalArgumentException("SCRAM nonce must be printable ASCII without ','");
            }
            this.password = password;
            this.username = username;
            this.clientNonce = clientNonce;
        }

        public byte[] clientFirstMessage() {
            clientFirstBare = "n=" + saslName(username) + ",r=" + clientNonce;
            return ("n,," + clientFirstBare).getBytes(StandardCharsets.UTF_8);
        }

        /** Parses the server-first-message and returns the client-final-message with the proof. */
        public byte[] clientFinalMessage(byte[] serverFirstMessage) {
            if (clientFirstBare == null) {
                throw new IllegalStateException("clientFirstMessage() not called");
            }
            String sf = ascii(serverFirstMessage, "server-first-message");
            Cursor c = new Cursor(sf, "server-first-message");
            String nonce = c.attribute('r');
            if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length() || !isPrintable(nonce)) {
                throw PgProtocolException.violation("invalid SCRAM response (nonce mismatch)");
            }
            c.comma();
            byte[] salt;
            try {
                salt = Base64.getDecoder().decode(c.attribute('s'));
            } catch (IllegalArgumentException e) {
                throw PgProtocolException.violation("malformed SCRAM message (invalid salt)");
            }
            c.comma();
            String iter = c.attribute('i');
            int iterations;
            try {
                iterations = Integer.parseInt(iter);
            } catch (NumberFormatException e) {
                iterations = -1;
            }
            if (iterations <= 0 || salt.length == 0) {
                throw PgProtocolException.violation("malformed SCRAM message (invalid iteration count or salt)");
            }
            if (!c.atEnd()) {
                throw PgProtocolException.violation("malformed SCRAM message (garbage at end of server-first-message)");
            }
            byte[] salted = saltedPassword(password, salt, iterations);
            byte[] clientKey = hmac(salted, "Client Key".getBytes(StandardCharsets.US_ASCII));
            byte[] storedKey = sha256(clientKey);
            byte[] serverKey = hmac(salted, "Server Key".getBytes(StandardCharsets.US_ASCII));
            String withoutProof = "c=" + Base64.getEncoder().encodeToString("n,,".getBytes(StandardCharsets.US_ASCII))
                    + ",r=" + nonce;
            byte[] authMessage = (clientFirstBare + "," + sf + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
            byte[] proof = xor(clientKey, hmac(storedKey, authMessage));
            serverSignature = hmac(serverKey, authMessage);
            return (withoutProof + ",p=" + Base64.getEncoder().encodeToString(proof)).getBytes(StandardCharsets.UTF_8);
        }

        /** Checks the server-final-message; throws if the server did not prove it knows the secret. */
        public void verifyServerFinal(byte[] serverFinalMessage) {
            if (serverSignature == null) {
                throw new IllegalStateException("clientFinalMessage() not called");
            }
            String s = ascii(serverFinalMessage, "server-final-message");
            Cursor c = new Cursor(s, "server-final-message");
            if (s.startsWith("e=")) {
                throw new PgProtocolException(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                        "error received from server in SCRAM exchange: " + s.substring(2));
            }
            byte[] sig;
            try {
                sig = Base64.getDecoder().decode(c.attribute('v'));
            } catch (IllegalArgumentException e) {
                throw PgProtocolException.violation("malformed SCRAM message (invalid server signature)");
            }
            if (!c.atEnd()) {
                throw PgProtocolException.violation("malformed SCRAM message (garbage at end of server-final-message)");
            }
            if (!MessageDigest.isEqual(sig, serverSignature)) {
                throw new PgProtocolException(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                        "incorrect server signature");
            }
        }
    }

    // ------------------------------------------------------------------ server side

    /** Result of the last step of a server exchange. */
    public record Outcome(boolean success, byte[] serverFinalMessage) {
    }

    /**
     * The backend side of one exchange (auth-scram.c). {@link #mock} makes an exchange for a user
     * that does not exist or has no SCRAM secret: it looks the same to the client (a stable fake
     * salt per user name) and always fails at the end, so that user names cannot be probed. A
     * failure does the same work as a success (the proof checked against a stored key, the
     * server signature computed), mock or not, so that its time tells nothing either.
     */
    public static final class ServerExchange {
        /** The user's secret, or for a mock exchange a made-up one that no proof matches. */
        private final Secret secret;
        private final boolean doomed;
        private final String serverNonce;
        private String clientFirstBare;
        private String serverFirst;
        private String clientNonce;
        private String gs2Header;
        private boolean finished;

        private ServerExchange(Secret secret, boolean doomed, String serverNonce) {
            if (!isPrintable(serverNonce) || serverNonce.isEmpty()) {
                throw new IllegalArgumentException("SCRAM nonce must be printable ASCII without ','");
            }
            if (secret == null) {
                throw new IllegalArgumentException("SCRAM secret is null");
            }
            this.secret = secret;
            this.doomed = doomed;
            this.serverNonce = serverNonce;
        }

        public static ServerExchange forSecret(Secret secret) {
            return new ServerExchange(secret, false, randomNonce());
        }

        /** For tests and fixed vectors: a given server nonce part. */
        public static ServerExchange forSecret(Secret secret, String serverNonce) {
            return new ServerExchange(secret, false, serverNonce);
        }

        /** A doomed exchange for an unknown user (scram_mock_salt), with made-up keys. */
        public static ServerExchange mock(String username) {
            byte[] user = username.getBytes(StandardCharsets.UTF_8);
            byte[] salt = Arrays.copyOf(hmac(MOCK_AUTH_KEY, user), SCRAM_DEFAULT_SALT_LEN);
            byte[] keys = hmac(MOCK_AUTH_KEY, hmac(MOCK_AUTH_KEY, user));
            return new ServerExchange(new Secret(SCRAM_DEFAULT_ITERATIONS, salt, keys, hmac(MOCK_AUTH_KEY, keys)),
                    true, randomNonce());
        }

        /** read_client_first_message + build_server_first_message. */
        public byte[] handleClientFirst(byte[] clientFirstMessage) {
            if (serverFirst != null) {
                throw new IllegalStateException("client-first-message already handled");
            }
            String m = ascii(clientFirstMessage, "client-first-message");
            if (m.isEmpty()) {
                throw malformed("The message is empty.");
            }
            Cursor c = new Cursor(m, "client-first-message");
            char cbind = c.next();
            switch (cbind) {
                case 'n', 'y' -> c.comma();
                case 'p' -> throw malformed("The client selected SCRAM-SHA-256 without channel binding, "
                        + "but the SCRAM message includes channel binding data.");
                default -> throw malformed("Unexpected channel-binding flag \"" + cbind + "\".");
            }
            if (c.peek() == 'a') {
                throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                        "client uses authorization identity, but it is not supported");
            }
            c.comma();
            gs2Header = m.substring(0, c.pos);
            clientFirstBare = m.substring(c.pos);
            if (c.peek() == 'm') {
                throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                        "client requires an unsupported SCRAM extension");
            }
            c.attribute('n'); // the user name is ignored, as PostgreSQL does
            c.comma();
            clientNonce = c.attribute('r');
            if (clientNonce.isEmpty() || !isPrintable(clientNonce)) {
                throw malformed("non-printable characters in SCRAM nonce");
            }
            while (!c.atEnd()) {
                c.comma();
                c.anyAttribute();
            }
            serverFirst = "r=" + clientNonce + serverNonce + ",s=" + Base64.getEncoder().encodeToString(secret.salt)
                    + ",i=" + secret.iterations();
            return serverFirst.getBytes(StandardCharsets.US_ASCII);
        }

        /** read_client_final_message + verify_client_proof + build_server_final_message. */
        public Outcome handleClientFinal(byte[] clientFinalMessage) {
            if (serverFirst == null || finished) {
                throw new IllegalStateException("client-final-message out of order");
            }
            finished = true;
            String m = ascii(clientFinalMessage, "client-final-message");
            Cursor c = new Cursor(m, "client-final-message");
            byte[] cbind;
            try {
                cbind = Base64.getDecoder().decode(c.attribute('c'));
            } catch (IllegalArgumentException e) {
                throw malformed("Unexpected SCRAM channel-binding attribute in client-final-message.");
            }
            if (!Arrays.equals(cbind, gs2Header.getBytes(StandardCharsets.US_ASCII))) {
                throw malformed("Unexpected SCRAM channel-binding attribute in client-final-message.");
            }
            c.comma();
            String nonce = c.attribute('r');
            c.comma();
            // extensions, then the proof, which must come last
            while (c.peek() != 'p') {
                if (c.atEnd()) {
                    throw malformed("Malformed proof in client-final-message.");
                }
                c.anyAttribute();
                c.comma();
            }
            int proofAt = c.pos - 1; // the ',' before "p="
            String proofText = c.attribute('p');
            byte[] proof;
            try {
                proof = Base64.getDecoder().decode(proofText);
            } catch (IllegalArgumentException e) {
                proof = null;
            }
            if (proof == null || proof.length != SCRAM_KEY_LEN) {
                throw malformed("Malformed proof in client-final-message.");
            }
            if (!c.atEnd()) {
                throw malformed("Garbage found at the end of client-final-message.");
            }
            if (!nonce.equals(clientNonce + serverNonce)) {
                throw malformed("Final nonce does not match.");
            }
            String withoutProof = m.substring(0, proofAt);
            byte[] authMessage = (clientFirstBare + "," + serverFirst + "," + withoutProof)
                    .getBytes(StandardCharsets.UTF_8);
            byte[] clientKey = xor(proof, hmac(secret.storedKey, authMessage));
            boolean proven = MessageDigest.isEqual(sha256(clientKey), secret.storedKey) & !doomed;
            byte[] serverSignature = hmac(secret.serverKey, authMessage);
            if (!proven) {
                return new Outcome(false, null);
            }
            return new Outcome(true, ("v=" + Base64.getEncoder().encodeToString(serverSignature))
                    .getBytes(StandardCharsets.US_ASCII));
        }

        private static PgProtocolException malformed(String detail) {
            return PgProtocolException.violation("malformed SCRAM message: " + detail);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A minimal reader of "x=value,y=value" SCRAM attribute lists (read_attribute_value). */
    private static final class Cursor {
        final String s;
        final String what;
        int pos;

        Cursor(String s, String what) {
            this.s = s;
            this.what = what;
        }

        boolean atEnd() {
            return pos >= s.length();
        }

        char peek() {
            return atEnd() ? '\0' : s.charAt(pos);
        }

        char next() {
            if (atEnd()) {
                throw fail("unexpected end of " + what);
            }
            return s.charAt(pos++);
        }

        void comma() {
            if (atEnd() || s.charAt(pos) != ',') {
                throw fail("expected ',' at offset " + pos + " of " + what);
            }
            pos++;
        }

        /** Reads "{name}=value" up to the next ',' (or end). */
        String attribute(char name) {
            if (pos + 1 >= s.length() || s.charAt(pos) != name || s.charAt(pos + 1) != '=') {
                throw fail("Expected attribute \"" + name + "\" but found \""
                        + (atEnd() ? "end of input" : String.valueOf(s.charAt(pos))) + "\" in " + what + ".");
            }
            pos += 2;
            int end = s.indexOf(',', pos);
            if (end < 0) {
                end = s.length();
            }
            String v = s.substring(pos, end);
            pos = end;
            return v;
        }

        /** read_any_attr: a letter, '=', value. */
        void anyAttribute() {
            char a = peek();
            if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z'))) {
                throw fail("Attribute expected, but found invalid character \"" + a + "\" in " + what + ".");
            }
            attribute(a);
        }

        PgProtocolException fail(String detail) {
            return PgProtocolException.violation("malformed SCRAM message: " + detail);
        }
    }

    /** SCRAM messages are printable ASCII except for the (ignored) user name, which is UTF-8. */
    private static String ascii(byte[] b, String what) {
        return PgReader.decodeUtf8(b, 0, b.length, "SCRAM " + what);
    }

    /** is_scram_printable: 0x21..0x7E except ','. */
    static boolean isPrintable(String s) {
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch < 0x21 || ch > 0x7E || ch == ',') {
                return false;
            }
        }
        return true;
    }

    /** RFC 5802 saslname: ',' and '=' escaped as =2C and =3D. */
    private static String saslName(String name) {
        return name.replace("=", "=3D").replace(",", "=2C");
    }

    static String randomNonce() {
        return Base64.getEncoder().encodeToString(randomBytes(SCRAM_RAW_NONCE_LEN));
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    /** scram_SaltedPassword: Hi() over the SASLprep'ed password (raw if SASLprep fails). */
    static byte[] saltedPassword(String password, byte[] salt, int iterations) {
        byte[] pw = SaslPrep.prepareOrRaw(password).getBytes(StandardCharsets.UTF_8);
        return hi(pw, salt, iterations);
    }

    /** Hi(str, salt, i) of RFC 5802 = PBKDF2-HMAC-SHA-256 with a single 32-byte block. */
    static byte[] hi(byte[] password, byte[] salt, int iterations) {
        Hmac mac = new Hmac(password);
        byte[] first = new byte[salt.length + 4];
        System.arraycopy(salt, 0, first, 0, salt.length);
        first[salt.length + 3] = 1; // INT(1), big-endian
        byte[] u = mac.apply(first);
        byte[] result = u.clone();
        for (int i = 1; i < iterations; i++) {
            u = mac.apply(u);
            for (int j = 0; j < result.length; j++) {
                result[j] ^= u[j];
            }
        }
        return result;
    }

    static byte[] hmac(byte[] key, byte[] message) {
        return new Hmac(key).apply(message);
    }

    static byte[] sha256(byte[] data) {
        return digest().digest(data);
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 not available", e);
        }
    }

    private static byte[] xor(byte[] a, byte[] b) {
        byte[] r = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = (byte) (a[i] ^ b[i]);
        }
        return r;
    }

    /**
     * HMAC-SHA-256 (RFC 2104) over MessageDigest: javax.crypto refuses an empty key, which an
     * empty password is; the inner and outer pad states are hashed once and cloned per message.
     */
    private static final class Hmac {
        private static final int BLOCK = 64;
        private final MessageDigest inner;
        private final MessageDigest outer;

        Hmac(byte[] key) {
            byte[] k = key.length > BLOCK ? sha256(key) : key;
            byte[] ipad = new byte[BLOCK];
            byte[] opad = new byte[BLOCK];
            for (int i = 0; i < BLOCK; i++) {
                byte kb = i < k.length ? k[i] : 0;
                ipad[i] = (byte) (kb ^ 0x36);
                opad[i] = (byte) (kb ^ 0x5c);
            }
            inner = digest();
            inner.update(ipad);
            outer = digest();
            outer.update(opad);
        }

        byte[] apply(byte[] message) {
            try {
                MessageDigest i = (MessageDigest) inner.clone();
                MessageDigest o = (MessageDigest) outer.clone();
                i.update(message);
                o.update(i.digest());
                return o.digest();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("SHA-256 digest not cloneable", e);
            }
        }
    }
}
