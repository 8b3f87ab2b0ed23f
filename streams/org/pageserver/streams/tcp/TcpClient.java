package org.pageserver.streams.tcp;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;

/**
 * Outgoing connections on the same transport as the listener's: a channel the caller connected
 * (and, for the replication client, used blocking for its handshake) becomes a flow whose
 * socket end is a {@link TcpConnectionStage}, read by one selector thread shared by every
 * outgoing connection of the process. A connection waiting for its peer holds no thread, so
 * a thousand tenants' WAL receivers cost one thread, not a thousand.
 */
public final class TcpClient {
    /**
     * Reads of 256 kB: a WAL receiver under a bulk load takes XLogData messages of up to 128 kB
     * (walsender's MAX_SEND_SIZE) back to back. No idle spinning: these connections carry
     * streams, not request/response round trips whose latency a spin would save.
     */
    static final TcpSettings SETTINGS = new TcpSettings(256 * 1024, 2, 16 * 1024, 1, 0);

    private TcpClient() {
    }

    /** The one selector loop of outgoing connections, started at first use. */
    private static final class Loop {
        static final SelectorLoop INSTANCE = new SelectorLoop("tcp-client-selector", SETTINGS.readChunkBytes(),
            SETTINGS.idleSpinNanos());
    }

    /**
     * The connected {@code channel} as a flow: what it is given is sent, what the peer sends is
     * emitted. The channel is made non-blocking; the flow owns it from now on and closes it when
     * it completes, fails or is cancelled. Materialize once.
     */
    public static Flow<ByteString, ByteString, NotUsed> connection(SocketChannel channel) throws IOException {
        channel.configureBlocking(false);
        return Flow.fromGraph(new TcpConnectionStage(channel, Loop.INSTANCE, SETTINGS));
    }
}
