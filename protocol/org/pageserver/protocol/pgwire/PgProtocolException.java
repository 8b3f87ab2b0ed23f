package org.pageserver.protocol.pgwire;

/**
 * A violation of the PostgreSQL frontend/backend protocol (or a refused request) detected while
 * decoding or handling a message. Carries the SQLSTATE that the server reports to the client in
 * the ErrorResponse's {@code C} field (see {@link SqlState}).
 */
public class PgProtocolException extends RuntimeException {

    private final String sqlState;

    public PgProtocolException(String sqlState, String message) {
        super(message);
        this.sqlState = SqlState.requireValid(sqlState);
    }

    public PgProtocolException(String sqlState, String message, Throwable cause) {
        super(message, cause);
        this.sqlState = SqlState.requireValid(sqlState);
    }

    /** Shorthand for the most common case, {@link SqlState#PROTOCOL_VIOLATION}. */
    public static PgProtocolException violation(String message) {
        return new PgProtocolException(SqlState.PROTOCOL_VIOLATION, message);
    }

    public String sqlState() {
        return sqlState;
    }

    @Override
    public String toString() {
        return "PgProtocolException[" + sqlState + "]: " + getMessage();
    }
}
