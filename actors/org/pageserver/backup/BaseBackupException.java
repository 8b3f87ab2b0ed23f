package org.pageserver.backup;

import org.pageserver.protocol.pgwire.SqlState;

/**
 * A base backup that cannot be given, with the SQLSTATE the pgwire server answers it with.
 * Thrown by {@link BaseBackup#prepare} before any byte (bad requests), and by
 * {@link BaseBackup#writeTo} when a page cannot be rebuilt mid-stream (the tar is then cut off
 * before global/pg_control, so it never starts).
 */
public final class BaseBackupException extends RuntimeException {
    private final String sqlState;

    public BaseBackupException(String sqlState, String message) {
        super(message);
        if (!SqlState.isValid(sqlState)) {
            throw new IllegalArgumentException("invalid SQLSTATE \"" + sqlState + "\"");
        }
        this.sqlState = sqlState;
    }

    public BaseBackupException(String sqlState, String message, Throwable cause) {
        this(sqlState, message);
        initCause(cause);
    }

    public String sqlState() {
        return sqlState;
    }

    /** 42704: no tenant has that system_id (for the server, which resolves tenants). */
    public static BaseBackupException unknownTenant(String systemId) {
        return new BaseBackupException(SqlState.UNDEFINED_OBJECT,
            "unknown system_id " + systemId + ": no such tenant (run callmemaybe first)");
    }
}
