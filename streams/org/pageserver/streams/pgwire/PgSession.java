package org.pageserver.streams.pgwire;

import java.util.concurrent.CompletionStage;

/**
 * One authenticated connection's session. Statements of a connection are handed over one at a
 * time, in order: {@link #query} is not called again before the previous stage completed. Calls
 * come from the connection's stream stage; implementations must not block.
 */
public interface PgSession {

    /**
     * Runs one SQL statement (a simple Query, one statement of a multi-statement Query, or an
     * extended-protocol Execute/Describe). A failed stage or a thrown exception becomes an
     * ErrorResponse (SQLSTATE from a PgProtocolException, else XX000) and the connection stays
     * usable.
     */
    CompletionStage<QueryResult> query(String sql);

    /**
     * The client sent a CancelRequest for this connection while a statement was running. The
     * connection has already answered 57014 and will ignore the pending result; this hook lets
     * the implementation stop the work.
     */
    default void cancel() {
    }

    /** The connection is gone (Terminate, disconnect, error or server shutdown). Called once. */
    default void close() {
    }
}
