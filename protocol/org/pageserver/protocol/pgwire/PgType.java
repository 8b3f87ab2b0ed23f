package org.pageserver.protocol.pgwire;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.UUID;

import org.pageserver.protocol.Lsn;

/**
 * Type OIDs (pg_type.dat, PG15) of the column types pageserver returns, their typlen, and the
 * binary send format of each (the typsend functions: int4send, textsend, byteasend, ...) for the
 * extended protocol when a client asks for binary results. Values are produced as text; a binary
 * request converts the text.
 */
public final class PgType {

    private PgType() {
    }

    public static final int BOOL = 16;
    public static final int BYTEA = 17;
    public static final int CHAR = 18;
    public static final int NAME = 19;
    public static final int INT8 = 20;
    public static final int INT2 = 21;
    public static final int INT4 = 23;
    public static final int TEXT = 25;
    public static final int OID = 26;
    public static final int JSON = 114;
    public static final int FLOAT4 = 700;
    public static final int FLOAT8 = 701;
    public static final int BPCHAR = 1042;
    public static final int VARCHAR = 1043;
    public static final int DATE = 1082;
    public static final int TIMESTAMP = 1114;
    public static final int TIMESTAMPTZ = 1184;
    public static final int NUMERIC = 1700;
    public static final int UUID_OID = 2950;
    public static final int PG_LSN = 3220;
    public static final int JSONB = 3802;

    /** pg_type.typlen: fixed size in bytes, -1 varlena, -2 C string. */
    public static short typeLen(int oid) {
        return switch (oid) {
            case BOOL, CHAR -> 1;
            case INT2 -> 2;
            case INT4, OID, FLOAT4, DATE -> 4;
            case INT8, FLOAT8, TIMESTAMP, TIMESTAMPTZ, PG_LSN -> 8;
            case UUID_OID -> 16;
            case NAME -> 64;
            default -> -1;
        };
    }

    /** True if {@link #textToBinary} can convert values of this type. */
    public static boolean supportsBinary(int oid) {
        return switch (oid) {
            case BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID, JSON, FLOAT4, FLOAT8, BPCHAR, VARCHAR,
                 UUID_OID, PG_LSN, JSONB -> true;
            default -> false;
        };
    }

    /**
     * The binary send format of a value given in text format. Throws PgProtocolException 0A000
     * for types without binary support here, 22P02 for text that is not a valid value.
     */
    public static byte[] textToBinary(int oid, String text) {
        try {
            return switch (oid) {
                case TEXT, VARCHAR, BPCHAR, NAME, JSON -> text.getBytes(StandardCharsets.UTF_8);
                case JSONB -> {
                    byte[] t = text.getBytes(StandardCharsets.UTF_8);
                    byte[] r = new byte[t.length + 1];
                    r[0] = 1; // jsonb_send: version 1 followed by the text
                    System.arraycopy(t, 0, r, 1, t.length);
                    yield r;
                }
                case CHAR -> {
                    byte[] t = text.getBytes(StandardCharsets.UTF_8);
                    yield t.length == 0 ? new byte[0] : new byte[] {t[0]};
                }
                case BOOL -> new byte[] {(byte) (parseBool(text) ? 1 : 0)};
                case INT2 -> {
                    short v = Short.parseShort(text.trim());
                    yield new byte[] {(byte) (v >>> 8), (byte) v};
                }
                case INT4 -> int32(Integer.parseInt(text.trim()));
                case OID -> int32((int) Long.parseLong(text.trim()));
                case INT8 -> int64(Long.parseLong(text.trim()));
                case FLOAT4 -> int32(Float.floatToIntBits(Float.parseFloat(text.trim())));
                case FLOAT8 -> int64(Double.doubleToLongBits(Double.parseDouble(text.trim())));
                case PG_LSN -> int64(Lsn.parse(text).value());
                case UUID_OID -> {
                    UUID u = UUID.fromString(text.trim());
                    byte[] r = new byte[16];
                    System.arraycopy(int64(u.getMostSignificantBits()), 0, r, 0, 8);
                    System.arraycopy(int64(u.getLeastSignificantBits()), 0, r, 8, 8);
                    yield r;
                }
                case BYTEA -> {
                    if (!text.startsWith("\\x")) {
                        throw new IllegalArgumentException("bytea text must be in hex format (\\x...)");
                    }
                    yield HexFormat.of().parseHex(text.substring(2));
                }
                default -> throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED,
                        "binary output format is not supported for type OID " + oid);
            };
        } catch (IllegalArgumentException e) {
            throw new PgProtocolException(SqlState.INVALID_TEXT_REPRESENTATION,
                    "invalid text for type OID " + oid + ": \"" + text + "\" (" + e.getMessage() + ")");
        }
    }

    private static boolean parseBool(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (t) {
            case "t", "true", "y", "yes", "on", "1" -> true;
            case "f", "false", "n", "no", "off", "0" -> false;
            default -> throw new IllegalArgumentException("not a boolean");
        };
    }

    private static byte[] int32(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static byte[] int64(long v) {
        byte[] r = new byte[8];
        for (int i = 0; i < 8; i++) {
            r[i] = (byte) (v >>> (56 - 8 * i));
        }
        return r;
    }
}
