package org.pageserver.protocol.pgwire;

/**
 * SQLSTATE codes used by pageserver, named as in PostgreSQL's errcodes.txt without the
 * {@code ERRCODE_} prefix ({@code ERRCODE_PROTOCOL_VIOLATION} is {@link #PROTOCOL_VIOLATION}).
 */
public final class SqlState {

    private SqlState() {
    }

    /** Class 00. */
    public static final String SUCCESSFUL_COMPLETION = "00000";

    /** Class 08: connection exception. */
    public static final String CONNECTION_EXCEPTION = "08000";
    public static final String CONNECTION_FAILURE = "08006";
    public static final String PROTOCOL_VIOLATION = "08P01";

    /** Class 0A: feature not supported. */
    public static final String FEATURE_NOT_SUPPORTED = "0A000";

    /** Class 22: data exception. */
    public static final String NUMERIC_VALUE_OUT_OF_RANGE = "22003";
    public static final String CHARACTER_NOT_IN_REPERTOIRE = "22021";
    public static final String INVALID_PARAMETER_VALUE = "22023";
    public static final String INVALID_TEXT_REPRESENTATION = "22P02";

    /** Class 26, 28, 34: invalid statement name, authorization, cursor name. */
    public static final String INVALID_SQL_STATEMENT_NAME = "26000";
    public static final String INVALID_AUTHORIZATION_SPECIFICATION = "28000";
    public static final String INVALID_PASSWORD = "28P01";
    public static final String INVALID_CURSOR_NAME = "34000";

    /** Class 3D: invalid catalog name (no such database). */
    public static final String INVALID_CATALOG_NAME = "3D000";

    /** Class 42: syntax error or access rule violation. */
    public static final String SYNTAX_ERROR = "42601";
    public static final String INSUFFICIENT_PRIVILEGE = "42501";
    public static final String UNDEFINED_FUNCTION = "42883";
    public static final String UNDEFINED_TABLE = "42P01";
    public static final String UNDEFINED_OBJECT = "42704";
    public static final String DUPLICATE_OBJECT = "42710";
    public static final String DUPLICATE_CURSOR = "42P03";
    public static final String DUPLICATE_PREPARED_STATEMENT = "42P05";

    /** Class 53: insufficient resources. */
    public static final String TOO_MANY_CONNECTIONS = "53300";

    /** Class 54: program limit exceeded. */
    public static final String PROGRAM_LIMIT_EXCEEDED = "54000";

    /** Class 55: object not in prerequisite state. */
    public static final String OBJECT_NOT_IN_PREREQUISITE_STATE = "55000";

    /** Class 57: operator intervention. */
    public static final String QUERY_CANCELED = "57014";
    public static final String ADMIN_SHUTDOWN = "57P01";
    public static final String CANNOT_CONNECT_NOW = "57P03";

    /** Class 58: system error. */
    public static final String IO_ERROR = "58030";
    public static final String UNDEFINED_FILE = "58P01";

    /** Class XX: internal error. */
    public static final String INTERNAL_ERROR = "XX000";
    public static final String DATA_CORRUPTED = "XX001";

    /** A SQLSTATE is exactly five characters from [0-9A-Z]. */
    public static boolean isValid(String code) {
        if (code == null || code.length() != 5) {
            return false;
        }
        for (int i = 0; i < 5; i++) {
            char c = code.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
                return false;
            }
        }
        return true;
    }

    static String requireValid(String code) {
        if (!isValid(code)) {
            throw new IllegalArgumentException("invalid SQLSTATE \"" + code + "\": expected 5 characters [0-9A-Z]");
        }
        return code;
    }
}
