package org.pageserver.protocol.pgwire;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * PostgreSQL's MD5 password scheme (md5.c: pg_md5_encrypt), for connecting to servers that
 * still ask for AuthenticationMD5Password.
 * <pre>
 *   stored hash     = "md5" || hex(md5(password || user))                 (pg_authid.rolpassword)
 *   client response = "md5" || hex(md5(hex(md5(password || user)) || salt))  (4-byte salt)
 * </pre>
 */
public final class Md5Password {

    private Md5Password() {
    }

    /** The stored form, as CREATE ROLE ... PASSWORD with password_encryption=md5 produces. */
    public static String encrypt(String password, String user) {
        return "md5" + hexMd5(concat(password.getBytes(StandardCharsets.UTF_8), user.getBytes(StandardCharsets.UTF_8)));
    }

    /** What the client sends in PasswordMessage after AuthenticationMD5Password(salt). */
    public static String clientResponse(String password, String user, byte[] salt) {
        return saltedResponse(encrypt(password, user), salt);
    }

    /** Server side: does {@code response} match {@code storedHash} ("md5" + 32 hex) for this salt? */
    public static boolean verify(String storedHash, byte[] salt, String response) {
        if (storedHash == null || storedHash.length() != 35 || !storedHash.startsWith("md5")) {
            return false;
        }
        String expected = saltedResponse(storedHash, salt);
        return MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                response.getBytes(StandardCharsets.US_ASCII));
    }

    private static String saltedResponse(String storedHash, byte[] salt) {
        if (salt.length != 4) {
            throw new IllegalArgumentException("MD5 salt must be 4 bytes, got " + salt.length);
        }
        return "md5" + hexMd5(concat(storedHash.substring(3).getBytes(StandardCharsets.US_ASCII), salt));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static String hexMd5(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 not available", e);
        }
    }
}
