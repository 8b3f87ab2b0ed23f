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

    /** The primary's ErrorResponse, with its SQLSTATE. */
    static ReplicationException fromPrimary(String where, org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse e) {
        return new ReplicationException(e.sqlState(), "the primary at " + where + " said: " + e.message());
    }

    /** What the primary sent breaks the protocol (08P01). */
    static ReplicationException protocol(String where, String what) {
        return new ReplicationException(org.pageserver.protocol.pgwire.SqlState.PROTOCOL_VIOLATION,
            "replication protocol error from " + where + ": " + what);
    }

    /** The connection failed under us (08006). */
    static ReplicationException lost(String where, Throwable cause) {
        return new ReplicationException(org.pageserver.protocol.pgwire.SqlState.CONNECTION_FAILURE,
            "connection to the primary at " + where + " lost: " + cause.getMessage(), cause);
    }

    /** The primary ended the WAL stream (08006); {@code why}: what its last message means. */
    static ReplicationException streamEnded(String where, String why) {
        return new ReplicationException(org.pageserver.protocol.pgwire.SqlState.CONNECTION_FAILURE, "the primary at "
            + where + " ended the WAL stream (" + why + ")");
    }
}
