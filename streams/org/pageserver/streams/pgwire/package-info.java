/**
 * The pgwire server, on the NIO transport of {@code org.pageserver.streams.tcp} (a selector
 * thread and one Pekko Streams stage per connection).
 *
 * <p>{@link org.pageserver.streams.pgwire.PgWireServer#start} binds a port; each connection runs
 * one {@code PgServerStage}, the protocol driver: framing, the ReadyForQuery cycle, cancel and
 * termination. {@code Authentication} declines SSLRequest/GSSENCRequest with 'N', routes a
 * CancelRequest to the connection it names and lets the
 * {@link org.pageserver.streams.pgwire.Authenticator} pick trust or SCRAM-SHA-256. Each
 * sub-protocol has its own handler with its own state, reached through the driver's
 * {@code Backend} face: {@code SimpleQuery}, {@code ExtendedQuery} (prepared statements and
 * portals), {@code CopyBothMode}, {@code CopyOutMode}. The {@link org.pageserver.streams.pgwire.PgSessionHandler} opens a
 * {@link org.pageserver.streams.pgwire.PgSession} that answers each SQL statement with a
 * {@link org.pageserver.streams.pgwire.QueryResult}: rows, a command tag, an error, a copy-both
 * {@code Flow<ByteString, ByteString, ?>} for streaming sub-protocols such as pagestream, a
 * copy-out {@code Source<ByteString, ?>} read as fast as the client reads, or a sequence of
 * result sets and copy-outs (the shape of BASE_BACKUP's answer).
 *
 * <p>Errors: protocol garbage ends only that connection (FATAL ErrorResponse, then close); a
 * failing handler gives an ERROR and the connection stays usable.
 *
 * <p>{@link org.pageserver.streams.pgwire.PgFrameDecoderStage} frames a byte stream for the client
 * side of a connection (a WAL receiver).
 */
package org.pageserver.streams.pgwire;
