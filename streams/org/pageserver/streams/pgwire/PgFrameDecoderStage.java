package org.pageserver.streams.pgwire;

import java.nio.ByteBuffer;

import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;

/**
 * Cuts a byte stream into {@link PgFrame}s with a {@link PgFrameDecoder}, one frame per element,
 * pulling bytes only when a frame is wanted and none is buffered. For the client side of a
 * connection (a WAL receiver reading a primary's replies): {@link #client(int)}. A framing error
 * fails the stream with the {@link org.pageserver.protocol.pgwire.PgProtocolException}; the end of
 * the input in the middle of a frame fails it with a PgProtocolException (08006) too.
 */
public final class PgFrameDecoderStage extends GraphStage<FlowShape<ByteString, PgFrame>> {

    private final Inlet<ByteString> in = Inlet.create("PgFrameDecoder.in");
    private final Outlet<PgFrame> out = Outlet.create("PgFrameDecoder.out");
    private final FlowShape<ByteString, PgFrame> shape = FlowShape.of(in, out);
    private final boolean server;
    private final int maxMessageSize;

    private PgFrameDecoderStage(boolean server, int maxMessageSize) {
        this.server = server;
        this.maxMessageSize = maxMessageSize;
    }

    /** Typed backend messages, bodies up to {@code maxMessageSize} bytes. */
    public static Flow<ByteString, PgFrame, NotUsed> client(int maxMessageSize) {
        return Flow.fromGraph(new PgFrameDecoderStage(false, maxMessageSize));
    }

    /** A startup packet first, then typed frontend messages. */
    public static Flow<ByteString, PgFrame, NotUsed> server(int maxMessageSize) {
        return Flow.fromGraph(new PgFrameDecoderStage(true, maxMessageSize));
    }

    @Override
    public FlowShape<ByteString, PgFrame> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
        PgFrameDecoder decoder = server ? PgFrameDecoder.forServer(maxMessageSize)
                : PgFrameDecoder.forClient(maxMessageSize);
        return new GraphStageLogic(shape) {
            {
                setHandler(in, new AbstractInHandler() {
                    @Override
                    public void onPush() {
                        for (ByteBuffer bb : grab(in).getByteBuffers()) {
                            decoder.feed(bb);
                        }
                        deliver();
                    }

                    @Override
                    public void onUpstreamFinish() {
                        if (decoder.buffered() == 0) {
                            completeStage();
                        } else if (isAvailable(out)) {
                            deliver();
                        }
                    }
                });
                setHandler(out, new AbstractOutHandler() {
                    @Override
                    public void onPull() {
                        deliver();
                    }
                });
            }

            private void deliver() {
                PgFrame f = decoder.next(); // a PgProtocolException fails the stage
                if (f != null) {
                    push(out, f);
                    if (isClosed(in) && decoder.buffered() == 0) {
                        completeStage();
                    }
                } else if (isClosed(in)) {
                    if (decoder.buffered() == 0) {
                        completeStage();
                    } else {
                        failStage(new org.pageserver.protocol.pgwire.PgProtocolException(
                                org.pageserver.protocol.pgwire.SqlState.CONNECTION_FAILURE,
                                "connection closed in the middle of a message (" + decoder.buffered()
                                        + " bytes of an incomplete message)"));
                    }
                } else if (!hasBeenPulled(in)) {
                    pull(in);
                }
            }
        };
    }
}
