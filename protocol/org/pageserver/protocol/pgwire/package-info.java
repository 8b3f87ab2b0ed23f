/**
 * The PostgreSQL frontend/backend protocol, version 3.0, as byte formats only (no I/O, no Pekko).
 *
 * <ul>
 *   <li>{@link org.pageserver.protocol.pgwire.PgFrameDecoder}: incremental framing (startup packet
 *       first on the server side; length checks per message type before allocation (MessageLimits); 08P01 errors).</li>
 *   <li>{@link org.pageserver.protocol.pgwire.FrontendMessage} and
 *       {@link org.pageserver.protocol.pgwire.BackendMessage}: one record per message with static
 *       {@code parse(byte[] body)} and {@code write(PgWriter)}; {@link org.pageserver.protocol.pgwire.CopyData}
 *       and {@link org.pageserver.protocol.pgwire.CopyDone} travel both ways.</li>
 *   <li>{@link org.pageserver.protocol.pgwire.PgReader} / {@link org.pageserver.protocol.pgwire.PgWriter}:
 *       bounds-checked big-endian body access (pqformat.c).</li>
 *   <li>{@link org.pageserver.protocol.pgwire.Scram}, {@link org.pageserver.protocol.pgwire.SaslPrep},
 *       {@link org.pageserver.protocol.pgwire.Md5Password}: password authentication, both sides.</li>
 *   <li>{@link org.pageserver.protocol.pgwire.ConnInfo}: libpq connection strings (keyword/value and URI).</li>
 *   <li>{@link org.pageserver.protocol.pgwire.SqlState}, {@link org.pageserver.protocol.pgwire.PgType}:
 *       SQLSTATE codes and type OIDs.</li>
 * </ul>
 *
 * Every parse error is a {@link org.pageserver.protocol.pgwire.PgProtocolException} carrying the
 * SQLSTATE a server would report.
 */
package org.pageserver.protocol.pgwire;
