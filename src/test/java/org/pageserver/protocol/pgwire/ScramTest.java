package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import org.junit.jupiter.api.Test;

class ScramTest {

    // RFC 7677, section 3: user "user", password "pencil".
    static final String C_NONCE = "rOprNGfwEbeRWgbNEkqO";
    static final String S_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    static final String CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    static final String SERVER_FIRST =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    static final String CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    static final String SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static Scram.Secret rfcSecret() {
        return Scram.Secret.build("pencil", Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
    }

    @Test
    void rfc7677ClientSide() {
        Scram.Client c = new Scram.Client("pencil", "user", C_NONCE);
        assertEquals(CLIENT_FIRST, new String(c.clientFirstMessage(), StandardCharsets.UTF_8));
        assertEquals(CLIENT_FINAL, new String(c.clientFinalMessage(b(SERVER_FIRST)), StandardCharsets.UTF_8));
        c.verifyServerFinal(b(SERVER_FINAL)); // no exception
    }

    @Test
    void rfc7677ServerSide() {
        Scram.ServerExchange s = Scram.ServerExchange.forSecret(rfcSecret(), S_NONCE);
        assertEquals(SERVER_FIRST, new String(s.handleClientFirst(b(CLIENT_FIRST)), StandardCharsets.US_ASCII));
        Scram.Outcome o = s.handleClientFinal(b(CLIENT_FINAL));
        assertTrue(o.success());
        assertEquals(SERVER_FINAL, new String(o.serverFinalMessage(), StandardCharsets.US_ASCII));
    }

    @Test
    void clientDetectsForgedServerSignature() {
        Scram.Client c = new Scram.Client("pencil", "user", C_NONCE);
        c.clientFirstMessage();
        c.clientFinalMessage(b(SERVER_FIRST));
        PgProtocolException e = assertThrows(PgProtocolException.class,
                () -> c.verifyServerFinal(b("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")));
        assertEquals(SqlState.INVALID_AUTHORIZATION_SPECIFICATION, e.sqlState());
        assertThrows(PgProtocolException.class, () -> c.verifyServerFinal(b("e=invalid-proof")));
        assertThrows(PgProtocolException.class, () -> c.verifyServerFinal(b("v=!!!")));
        assertThrows(PgProtocolException.class, () -> c.verifyServerFinal(b(SERVER_FINAL + ",x=1")));
    }

    @Test
    void clientRefusesBadServerFirst() {
        String[] bad = {
            "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",   // nonce not ours
            "r=" + C_NONCE + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // no server part
            "r=" + C_NONCE + "x,s=***,i=4096",
            "r=" + C_NONCE + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            "r=" + C_NONCE + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=abc",
            "r=" + C_NONCE + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            "r=" + C_NONCE + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1,extra=1",
            "",
            "x",
        };
        for (String s : bad) {
            Scram.Client c = new Scram.Client("pencil", "", C_NONCE);
            c.clientFirstMessage();
            assertThrows(PgProtocolException.class, () -> c.clientFinalMessage(b(s)), s);
        }
    }

    @Test
    void wrongPasswordFails() {
        Scram.Client c = new Scram.Client("pencil2");
        Scram.ServerExchange s = Scram.ServerExchange.forSecret(rfcSecret());
        byte[] sf = s.handleClientFirst(c.clientFirstMessage());
        Scram.Outcome o = s.handleClientFinal(c.clientFinalMessage(sf));
        assertFalse(o.success());
        assertNull(o.serverFinalMessage());
    }

    @Test
    void rightPasswordWithRandomNonces() {
        Scram.Secret secret = Scram.Secret.build("correct horse");
        Scram.Client c = new Scram.Client("correct horse");
        Scram.ServerExchange s = Scram.ServerExchange.forSecret(secret);
        byte[] sf = s.handleClientFirst(c.clientFirstMessage());
        Scram.Outcome o = s.handleClientFinal(c.clientFinalMessage(sf));
        assertTrue(o.success());
        c.verifyServerFinal(o.serverFinalMessage());
    }

    @Test
    void mockExchangeLooksNormalAndAlwaysFails() {
        Scram.ServerExchange m1 = Scram.ServerExchange.mock("nobody");
        Scram.ServerExchange m2 = Scram.ServerExchange.mock("nobody");
        Scram.Client c = new Scram.Client("whatever");
        String sf1 = new String(m1.handleClientFirst(c.clientFirstMessage()), StandardCharsets.US_ASCII);
        String sf2 = new String(m2.handleClientFirst(b("n,,n=,r=abc")), StandardCharsets.US_ASCII);
        // the same stable fake salt for the same user name, default iteration count
        assertEquals(sf1.substring(sf1.indexOf(",s=")), sf2.substring(sf2.indexOf(",s=")));
        assertTrue(sf1.endsWith(",i=4096"));
        assertFalse(m1.handleClientFinal(c.clientFinalMessage(b(sf1))).success());
    }

    /**
     * The last step costs the same whatever fails: an unknown user's exchange (mock) is not
     * quicker than a wrong password's, which is not quicker than a success (medians of 1,000 each,
     * interleaved; a failure that skipped the proof check would take a fraction of the time).
     */
    @Test
    void failuresTakeAsLongAsASuccess() {
        Scram.Secret secret = Scram.Secret.build("right");
        long[][] nanos = new long[3][1000];
        for (int round = -200; round < 1000; round++) {
            for (int kind = 0; kind < 3; kind++) {
                Scram.ServerExchange s = kind == 0 ? Scram.ServerExchange.mock("nobody")
                        : Scram.ServerExchange.forSecret(secret);
                Scram.Client c = new Scram.Client(kind == 2 ? "right" : "wrong");
                byte[] sf = s.handleClientFirst(c.clientFirstMessage());
                byte[] cf = c.clientFinalMessage(sf);
                long t0 = System.nanoTime();
                boolean ok = s.handleClientFinal(cf).success();
                long t = System.nanoTime() - t0;
                assertEquals(kind == 2, ok);
                if (round >= 0) {
                    nanos[kind][round] = t;
                }
            }
        }
        long[] median = new long[3];
        for (int kind = 0; kind < 3; kind++) {
            java.util.Arrays.sort(nanos[kind]);
            median[kind] = nanos[kind][500];
        }
        String times = "median ns: unknown user " + median[0] + ", wrong password " + median[1] + ", success " + median[2];
        assertTrue(median[0] * 10 >= median[2] * 7 && median[1] * 10 >= median[2] * 7, times);
    }

    @Test
    void serverRefusesMalformedClientMessages() {
        String[] badFirst = {
            "", "x,,n=,r=abc", "n", "n,", "n,,", "n,,r=abc", "n,,n=,", "n,,n=,r=", "n,,n=,r=a b",
            "p=tls-server-end-point,,n=,r=abc", "n,,n=,r=abc,1=x",
        };
        for (String m : badFirst) {
            Scram.ServerExchange s = Scram.ServerExchange.forSecret(rfcSecret());
            PgProtocolException e = assertThrows(PgProtocolException.class, () -> s.handleClientFirst(b(m)), m);
            assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState(), m);
            assertTrue(e.getMessage().startsWith("malformed SCRAM message"), e.getMessage());
        }
        Scram.ServerExchange authz = Scram.ServerExchange.forSecret(rfcSecret());
        assertEquals(SqlState.FEATURE_NOT_SUPPORTED, assertThrows(PgProtocolException.class,
                () -> authz.handleClientFirst(b("n,a=admin,n=,r=abc"))).sqlState());
        Scram.ServerExchange ext = Scram.ServerExchange.forSecret(rfcSecret());
        assertEquals(SqlState.FEATURE_NOT_SUPPORTED, assertThrows(PgProtocolException.class,
                () -> ext.handleClientFirst(b("n,,m=ext,n=,r=abc"))).sqlState());
        // extensions after the nonce are allowed, "y" binding flag too
        Scram.ServerExchange y = Scram.ServerExchange.forSecret(rfcSecret(), S_NONCE);
        y.handleClientFirst(b("y,,n=user,r=" + C_NONCE + ",x=ext"));

        String nonce = C_NONCE + S_NONCE;
        String proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        String[] badFinal = {
            "", "c=biws", "c=eSws,r=" + nonce + "," + proof,  // y,, though client said n,,
            "c=biws,r=" + C_NONCE + "wrong," + proof, "c=biws,r=" + nonce, "c=biws,r=" + nonce + ",p=short",
            "c=biws,r=" + nonce + "," + proof + ",x=1", "c=***,r=" + nonce + "," + proof,
            "r=" + nonce + ",c=biws," + proof,
        };
        for (String m : badFinal) {
            Scram.ServerExchange s = Scram.ServerExchange.forSecret(rfcSecret(), S_NONCE);
            s.handleClientFirst(b(CLIENT_FIRST));
            PgProtocolException e = assertThrows(PgProtocolException.class, () -> s.handleClientFinal(b(m)), m);
            assertEquals(SqlState.PROTOCOL_VIOLATION, e.sqlState(), m);
        }
        // invalid UTF-8
        Scram.ServerExchange u = Scram.ServerExchange.forSecret(rfcSecret());
        assertThrows(PgProtocolException.class, () -> u.handleClientFirst(new byte[] {'n', ',', ',', (byte) 0xFF}));
    }

    @Test
    void secretFormatRoundTripAndErrors() {
        Scram.Secret s = rfcSecret();
        String text = s.toString();
        assertTrue(text.startsWith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"), text);
        assertEquals(s, Scram.Secret.parse(text));
        assertTrue(s.verifyPlainPassword("pencil"));
        assertFalse(s.verifyPlainPassword("Pencil"));
        String[] bad = {
            null, "", "md5abc", "SCRAM-SHA-256$4096:W22Z$x:y", "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys(),
            "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys(), "SCRAM-SHA-256$4096:!!$" + keys(),
            "SCRAM-SHA-256$4096$" + keys(), "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys(),
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys() + "$x",
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        };
        for (String t : bad) {
            assertThrows(IllegalArgumentException.class, () -> Scram.Secret.parse(t), String.valueOf(t));
            assertFalse(Scram.Secret.isScramSecret(t));
        }
        Scram.Secret random = Scram.Secret.build("x");
        assertEquals(16, random.salt().length);
        assertEquals(4096, random.iterations());
    }

    private static String keys() {
        String k = Base64.getEncoder().encodeToString(new byte[32]);
        return k + ":" + k;
    }

    @Test
    void emptyPasswordWorks() {
        Scram.Secret s = Scram.Secret.build("");
        assertTrue(s.verifyPlainPassword(""));
        assertFalse(s.verifyPlainPassword(" "));
    }

    @Test
    void saslPrepAsPostgres() {
        assertEquals("user", SaslPrep.prepare("user").prepared());
        // pure ASCII goes through untouched, even control characters (pg_saslprep's fast path)
        assertEquals("a\u0007b", SaslPrep.prepare("a\u0007b").prepared());
        // RFC 4013 section 3 examples that involve non-ASCII
        assertEquals("IX", SaslPrep.prepare("I\u00ADX").prepared());   // soft hyphen mapped to nothing
        assertEquals("a", SaslPrep.prepare("\u00AA").prepared());      // NFKC
        assertEquals("IX", SaslPrep.prepare("\u2168").prepared());     // NFKC
        assertFalse(SaslPrep.prepare("\u0627\u0031").ok());             // bidi: RandALCat not last
        // non-ASCII space maps to ' '
        assertEquals("a b", SaslPrep.prepare("a\u00A0b").prepared());
        // composed and decomposed forms prepare to the same string
        assertEquals(SaslPrep.prepare("caf\u00E9").prepared(), SaslPrep.prepare("cafe\u0301").prepared());
        assertEquals("abc", SaslPrep.prepare("\uFF41\uFF42\uFF43").prepared());
        // prohibited and unassigned
        assertFalse(SaslPrep.prepare("\u00E9\u0007").ok());
        assertFalse(SaslPrep.prepare("\u00E9\uE000").ok());            // private use
        assertFalse(SaslPrep.prepare("\u00E9\u0221").ok());            // unassigned in Unicode 3.2
        assertFalse(SaslPrep.prepare("\u00AD").ok());                  // empty after mapping
        assertFalse(SaslPrep.prepare("\u05D0a\u05D0").ok());           // RandAL and L mixed
        assertEquals("\u05D0\u05D1", SaslPrep.prepare("\u05D0\u05D1").prepared());
        assertFalse(SaslPrep.prepare("\uD800x\u00E9").ok());           // unpaired surrogate
        // failure falls back to the raw password
        assertEquals("\u00E9\u0007", SaslPrep.prepareOrRaw("\u00E9\u0007"));
    }

    @Test
    void md5AsPostgres() {
        // values computed with Python's hashlib: 'md5' + md5(b'secretalice'), then salted with 01020304
        assertEquals("md54a0a68b43b6cd5cf266fa02f196e2371", Md5Password.encrypt("secret", "alice"));
        assertEquals("md598a0412b9c31436fc53776e863350083",
                Md5Password.clientResponse("secret", "alice", new byte[] {1, 2, 3, 4}));
        assertTrue(Md5Password.verify("md54a0a68b43b6cd5cf266fa02f196e2371", new byte[] {1, 2, 3, 4},
                "md598a0412b9c31436fc53776e863350083"));
        assertFalse(Md5Password.verify("md54a0a68b43b6cd5cf266fa02f196e2371", new byte[] {1, 2, 3, 5},
                "md598a0412b9c31436fc53776e863350083"));
        assertFalse(Md5Password.verify("SCRAM-SHA-256$...", new byte[4], "x"));
        assertThrows(IllegalArgumentException.class, () -> Md5Password.clientResponse("a", "b", new byte[3]));
    }

    @Test
    void hiIsPbkdf2() throws Exception {
        // cross-check Hi() with the JDK's PBKDF2 for an ASCII password
        byte[] salt = b("NaCl");
        javax.crypto.SecretKeyFactory f = javax.crypto.SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256");
        byte[] expected = f.generateSecret(new javax.crypto.spec.PBEKeySpec("password".toCharArray(), salt, 80, 256))
                .getEncoded();
        assertArrayEquals(expected, Scram.hi(b("password"), salt, 80));
    }
}
