/**
 * The TCP transport of the pgwire listener: {@link org.pageserver.streams.tcp.NioTcpServer}
 * accepts connections on one selector thread ({@code SelectorLoop}) and runs each as a Pekko
 * Streams flow whose socket end is a {@code TcpConnectionStage}.
 *
 * <p>Why not Pekko's {@code Tcp().bind}: there a connection actor sits between the selector and
 * the stream, and each request/response pair crossed threads six to eight times; on a 2-core
 * machine those wake-ups cost more than serving a cached page (BENCHMARKS.md, page service).
 * Here the selector hands received bytes straight to the stage and the stage writes to the
 * socket itself. Backpressure is kept both ways: the selector stops reading a connection whose
 * protocol has not taken its chunks, and a stage whose socket is full stops pulling.
 *
 * <p>Outgoing connections use the same stage on a selector thread of their own
 * ({@link org.pageserver.streams.tcp.TcpClient}): the WAL receiver's replication client
 * connects and authenticates blocking, then streams on this transport, so a tenant waiting for
 * WAL holds no thread.
 */
package org.pageserver.streams.tcp;
