package org.pageserver.protocol.replication;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.pgwire.StartupOptions;

/**
 * The options of a BASE_BACKUP command, read and checked as PostgreSQL 15's
 * parse_basebackup_options (basebackup.c) does: each at most once, booleans as defGetBoolean
 * takes them, and the same refusals.
 *
 * @param label             LABEL, "base backup" when not given
 * @param progress          PROGRESS: announce the size first and report progress
 * @param fastCheckpoint    CHECKPOINT 'fast' (else 'spread')
 * @param waitForWalArchive WAIT (default true): wait until the WAL needed is archived
 * @param includeWal        WAL: include the WAL needed to make the backup consistent
 * @param maxRate           MAX_RATE in kB/s, 0 for no limit
 * @param tablespaceMap     TABLESPACE_MAP: send a tablespace_map file
 * @param verifyChecksums   VERIFY_CHECKSUMS (default true)
 * @param manifest          MANIFEST: "no" (default), "yes" or "force-encode"
 * @param manifestChecksums MANIFEST_CHECKSUMS: NONE, CRC32C (the default with a manifest), SHA224, ...
 * @param target            TARGET, null for the client (the old per-tablespace COPY protocol is
 *                          not in 15: the archives come in one COPY OUT either way)
 * @param targetDetail      TARGET_DETAIL, or null
 * @param compression       COMPRESSION: none, gzip, lz4 or zstd
 * @param compressionDetail COMPRESSION_DETAIL as given (a level, or level=..,workers=..), or null
 */
public record BaseBackupOptions(String label, boolean progress, boolean fastCheckpoint, boolean waitForWalArchive,
                                boolean includeWal, int maxRate, boolean tablespaceMap, boolean verifyChecksums,
                                String manifest, String manifestChecksums, String target, String targetDetail,
                                String compression, String compressionDetail) {

    /** MAX_RATE bounds in kB/s (MAX_RATE_LOWER, MAX_RATE_UPPER in basebackup.h). */
    public static final int MAX_RATE_LOWER = 32;
    public static final int MAX_RATE_UPPER = 1024 * 1024;

    private static final List<String> CHECKSUMS = List.of("NONE", "CRC32C", "SHA224", "SHA256", "SHA384", "SHA512");
    private static final List<String> COMPRESSIONS = List.of("none", "gzip", "lz4", "zstd");

    public static BaseBackupOptions defaults() {
        return of(List.of());
    }

    public static BaseBackupOptions of(List<ReplicationCommand.Option> options) {
        String label = null;
        boolean progress = false;
        boolean fast = false;
        boolean wait = true;
        boolean wal = false;
        int maxRate = 0;
        boolean tablespaceMap = false;
        boolean verify = true;
        String manifest = "no";
        String checksums = null;
        String target = null;
        String targetDetail = null;
        String compression = "none";
        String compressionDetail = null;
        Set<String> seen = new HashSet<>();
        for (ReplicationCommand.Option o : options) {
            String name = o.name();
            switch (name) {
                case "label", "progress", "checkpoint", "wait", "wal", "max_rate", "tablespace_map",
                     "verify_checksums", "manifest", "manifest_checksums", "target", "target_detail", "compression",
                     "compression_detail" -> {
                    if (!seen.add(name)) {
                        throw syntax("duplicate option \"" + name + "\"");
                    }
                }
                default -> throw syntax("unrecognized base backup option: \"" + name + "\"");
            }
            switch (name) {
                case "label" -> label = string(o);
                case "progress" -> progress = bool(o);
                case "checkpoint" -> {
                    String v = string(o);
                    if (v.equalsIgnoreCase("fast")) {
                        fast = true;
                    } else if (!v.equalsIgnoreCase("spread")) {
                        throw syntax("unrecognized checkpoint type: \"" + v + "\"");
                    }
                }
                case "wait" -> wait = bool(o);
                case "wal" -> wal = bool(o);
                case "max_rate" -> maxRate = maxRate(o);
                case "tablespace_map" -> tablespaceMap = bool(o);
                case "verify_checksums" -> verify = bool(o);
                case "manifest" -> {
                    String v = string(o);
                    Boolean b = StartupOptions.parseBool(v);
                    if (b != null) {
                        manifest = b ? "yes" : "no";
                    } else if (v.equalsIgnoreCase("force-encode")) {
                        manifest = "force-encode";
                    } else {
                        throw syntax("unrecognized manifest option: \"" + v + "\"");
                    }
                }
                case "manifest_checksums" -> {
                    String v = string(o);
                    checksums = v.toUpperCase(Locale.ROOT);
                    if (!CHECKSUMS.contains(checksums)) {
                        throw syntax("unrecognized checksum algorithm: \"" + v + "\"");
                    }
                }
                case "target" -> target = string(o);
                case "target_detail" -> targetDetail = string(o);
                case "compression" -> {
                    String v = string(o);
                    compression = v.toLowerCase(Locale.ROOT);
                    if (!COMPRESSIONS.contains(compression)) {
                        throw syntax("unrecognized compression algorithm: \"" + v + "\"");
                    }
                }
                default -> compressionDetail = string(o);
            }
        }
        if (manifest.equals("no")) {
            if (checksums != null) {
                throw syntax("manifest checksums require a backup manifest");
            }
            checksums = "NONE";
        } else if (checksums == null) {
            checksums = "CRC32C";
        }
        if (target == null && targetDetail != null) {
            throw syntax("target detail cannot be used without target");
        }
        if ("client".equals(target) && targetDetail != null) {
            throw syntax("target \"client\" does not accept a target detail");
        }
        if (compressionDetail != null && !seen.contains("compression")) {
            throw syntax("compression detail cannot be specified unless compression is enabled");
        }
        return new BaseBackupOptions(label == null ? "base backup" : label, progress, fast, wait, wal, maxRate,
            tablespaceMap, verify, manifest, checksums, target, targetDetail, compression, compressionDetail);
    }

    private static PgProtocolException syntax(String message) {
        return new PgProtocolException(SqlState.SYNTAX_ERROR, message);
    }

    /** defGetString: a value is required. */
    private static String string(ReplicationCommand.Option o) {
        if (o.value() == null) {
            throw syntax(o.name() + " requires a parameter");
        }
        return o.value();
    }

    /** defGetBoolean: no value is true; else true/false/on/off (any case) or 1/0. */
    private static boolean bool(ReplicationCommand.Option o) {
        if (o.value() == null) {
            return true;
        }
        String v = o.value().toLowerCase(Locale.ROOT);
        switch (v) {
            case "true", "on", "1" -> {
                return true;
            }
            case "false", "off", "0" -> {
                return false;
            }
            default -> throw syntax(o.name() + " requires a Boolean value");
        }
    }

    private static int maxRate(ReplicationCommand.Option o) {
        long v;
        try {
            v = Long.parseLong(string(o));
        } catch (NumberFormatException e) {
            throw syntax("max_rate requires a numeric value");
        }
        if (v < MAX_RATE_LOWER || v > MAX_RATE_UPPER) {
            throw new PgProtocolException(SqlState.NUMERIC_VALUE_OUT_OF_RANGE, v
                + " is outside the valid range for parameter \"max_rate\" (" + MAX_RATE_LOWER + " .. "
                + MAX_RATE_UPPER + ")");
        }
        return (int) v;
    }
}
