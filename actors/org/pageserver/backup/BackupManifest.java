package org.pageserver.backup;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import org.pageserver.protocol.Lsn;

/**
 * The backup_manifest of a backup, in PostgreSQL 15's format (backup_manifest.c), so that
 * pg_basebackup stores it and pg_verifybackup checks the backup against it: the version, one
 * entry per regular file (path, size, modification time in GMT, CRC32C of its content), the WAL
 * range the backup needs, and the SHA-256 of everything before the "Manifest-Checksum" line.
 *
 * <pre>
 * { "PostgreSQL-Backup-Manifest-Version": 1,
 * "Files": [
 * { "Path": "PG_VERSION", "Size": 3, "Last-Modified": "2026-12-07 14:22:49 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "d1ce4bd5" },
 * ...
 * ],
 * "WAL-Ranges": [
 * { "Timeline": 1, "Start-LSN": "0/6000028", "End-LSN": "0/60000A0" }
 * ],
 * "Manifest-Checksum": "&lt;sha256 hex&gt;"}
 * </pre>
 *
 * A CRC32C is shown as PostgreSQL shows it: the bytes of the uint32 in memory (little-endian), in hex.
 */
public final class BackupManifest {
    private static final DateTimeFormatter GMT = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'GMT'")
        .withZone(ZoneOffset.UTC);

    private final ByteArrayOutputStream text = new ByteArrayOutputStream();
    private final MessageDigest sha256;
    private boolean firstFile = true;

    BackupManifest() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        append("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [");
    }

    /** One regular file of the backup, with the CRC32C of its content. */
    void addFile(String path, long size, long modifiedEpochSeconds, int crc32c) {
        StringBuilder b = new StringBuilder(firstFile ? "\n" : ",\n");
        firstFile = false;
        b.append("{ \"Path\": ").append(jsonString(path)).append(", \"Size\": ").append(size)
            .append(", \"Last-Modified\": \"").append(GMT.format(Instant.ofEpochSecond(modifiedEpochSeconds)))
            .append("\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"")
            .append(HexFormat.of().formatHex(new byte[] {(byte) crc32c, (byte) (crc32c >>> 8), (byte) (crc32c >>> 16),
                (byte) (crc32c >>> 24)}))
            .append("\" }");
        append(b.toString());
    }

    /** Closes the file list, adds the WAL range and the manifest's own checksum; the whole text. */
    byte[] finish(int timeline, Lsn walStart, Lsn walEnd) {
        append("\n],\n");
        append("\"WAL-Ranges\": [\n");
        append("{ \"Timeline\": " + Integer.toUnsignedString(timeline) + ", \"Start-LSN\": \"" + walStart
            + "\", \"End-LSN\": \"" + walEnd + "\" }");
        append("\n],\n");
        String checksum = HexFormat.of().formatHex(sha256.digest());
        byte[] tail = ("\"Manifest-Checksum\": \"" + checksum + "\"}\n").getBytes(StandardCharsets.UTF_8);
        text.write(tail, 0, tail.length);
        return text.toByteArray();
    }

    private void append(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        sha256.update(b);
        text.write(b, 0, b.length);
    }

    /** escape_json (json.c): quotes, backslash, the short escapes, other control characters as \\u00XX. */
    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < ' ') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
