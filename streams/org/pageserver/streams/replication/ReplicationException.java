package org.pageserver.streams.replication;

/** A replication connection failed: the primary's error (with its SQLSTATE) or a lost connection (08006). */
public final class ReplicationException extends RuntimeException {
    private final String sqlState;

    public ReplicationException(String sqlState, String message) {
        super(message);
        this.sqlState = sqlState;
    }

    public ReplicationException(String sqlState, String message, Throwable cause) {
        super(message, cause);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
