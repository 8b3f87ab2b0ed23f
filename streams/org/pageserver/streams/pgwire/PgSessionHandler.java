package org.pageserver.streams.pgwire;

/** Creates the per-connection {@link PgSession}; implemented by the actors layer. */
@FunctionalInterface
public interface PgSessionHandler {

    /**
     * Called once per connection after authentication, before ReadyForQuery. Throwing refuses
     * the connection with a FATAL ErrorResponse (SQLSTATE from a PgProtocolException, e.g.
     * 3D000 for an unknown database, else XX000).
     */
    PgSession open(SessionInfo info);
}
