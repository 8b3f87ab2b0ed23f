package org.pageserver.streams.pgwire;

import java.util.function.Consumer;

import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CopyBothResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.CopyFail;
import org.pageserver.protocol.pgwire.FrontendMessage.Flush;
import org.pageserver.protocol.pgwire.FrontendMessage.Sync;
import org.pageserver.protocol.pgwire.FrontendMessage.Terminate;
import org.pageserver.protocol.pgwire.MessageLimits;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;

/**
 * One copy-both exchange ({@link QueryResult.CopyBoth}): CopyBothResponse, then the payload of
 * every client CopyData into the flow and every element of the flow back as one CopyData.
 *
 * <p>Flow control: a client CopyData is read only when the flow pulls, and the flow's next
 * element is asked for only once the previous CopyData has been written. Each side ends with
 * CopyDone; once both have, CommandComplete. After the flow has finished, client CopyData is
 * read and dropped until the client's CopyDone, so that the client is never blocked.
 */
final class CopyBothMode implements CopyMode {

    /** What the client's CopyFail turns into inside the copy flow. */
    static final class CopyFailedException extends RuntimeException {
        CopyFailedException(String message) {
            super("COPY from stdin failed: " + message);
        }
    }

    private final Backend backend;
    private final MessageLimits limits;
    private final String tag;
    private final Runnable onSuccess;
    private final Consumer<ErrorResponse> onError;
    private final GraphStageLogic.SubSourceOutlet<ByteString> toFlow;
    private final GraphStageLogic.SubSinkInlet<ByteString> fromFlow;
    /** Until the copy ends, is cancelled or abandoned: later sub-stream signals are ignored. */
    private boolean current = true;
    private boolean clientDone;
    private boolean serverDone;
    private boolean toFlowClosed;
    private String clientFailMessage;

    private CopyBothMode(Backend backend, QueryResult.CopyBoth cb, Runnable onSuccess,
                         Consumer<ErrorResponse> onError) {
        this.backend = backend;
        this.limits = MessageLimits.copyIn(Math.min(cb.maxCopyData(), backend.maxMessageSize()));
        this.tag = cb.commandTag();
        this.onSuccess = onSuccess;
        this.onError = onError;
        this.toFlow = backend.subSource("PgServer.copyIn");
        this.fromFlow = backend.subSink("PgServer.copyOut");
        toFlow.setHandler(new AbstractOutHandler() {
            @Override
            public void onPull() {
                if (current && !clientDone) {
                    backend.readNextMessage();
                }
            }

            @Override
            public void onDownstreamFinish(Throwable cause) {
                // The flow wants no more input; keep reading (and dropping) the client's
                // CopyData so that the client is not blocked.
                toFlowClosed = true;
                if (current && !clientDone) {
                    backend.readNextMessage();
                }
            }
        });
        fromFlow.setHandler(new AbstractInHandler() {
            @Override
            public void onPush() {
                ByteString payload = fromFlow.grab();
                ByteString frame = ByteString.fromArrayUnsafe(CopyData.header(payload.size())).concat(payload);
                backend.sendBytes(frame, () -> {
                    if (current && !fromFlow.isClosed()) {
                        fromFlow.pull();
                    }
                });
            }

            @Override
            public void onUpstreamFinish() {
                backend.guarded(CopyBothMode.this::onFlowFinished);
            }

            @Override
            public void onUpstreamFailure(Throwable ex) {
                backend.guarded(() -> onFlowFailed(ex));
            }
        });
    }

    /** Enters copy-both mode, answers CopyBothResponse and then runs the flow. */
    static void start(Backend backend, QueryResult.CopyBoth cb, Runnable onSuccess, Consumer<ErrorResponse> onError) {
        CopyBothMode c = new CopyBothMode(backend, cb, onSuccess, onError);
        backend.enterCopy(c);
        backend.send(() -> c.run(cb.flow()), CopyBothResponse.BINARY_STREAM);
    }

    private void run(Flow<ByteString, ByteString, ?> flow) {
        if (!current) {
            return;
        }
        try {
            Source.fromGraph(toFlow.source()).via(flow).runWith(fromFlow.sink(), backend.subMaterializer());
        } catch (RuntimeException ex) {
            onFlowFailed(ex);
            return;
        }
        fromFlow.pull();
    }

    /** CopyData up to the result's {@code maxCopyData}; a longer one ends the connection unread. */
    @Override
    public MessageLimits messageLimits() {
        return limits;
    }

    @Override
    public void onMessage(FrontendMessage m) {
        if (m instanceof CopyData d) {
            if (toFlowClosed || clientDone) {
                backend.readNextMessage(); // dropped
            } else if (toFlow.isAvailable()) {
                toFlow.push(ByteString.fromArrayUnsafe(d.data()));
                // the next message is read when the flow pulls again
            } else {
                throw new IllegalStateException("CopyData read without demand from the copy flow");
            }
        } else if (m instanceof CopyDone) {
            clientDone = true;
            if (!toFlowClosed) {
                toFlowClosed = true;
                toFlow.complete();
            }
            if (serverDone) {
                finish();
            }
        } else if (m instanceof CopyFail f) {
            clientDone = true;
            clientFailMessage = f.message();
            if (!toFlowClosed) {
                toFlowClosed = true;
                toFlow.fail(new CopyFailedException(f.message()));
            }
            if (serverDone) {
                finish();
            }
        } else if (m instanceof Flush || m instanceof Sync) {
            backend.readNextMessage(); // ignored during copy, as PostgreSQL does
        } else if (m instanceof Terminate) {
            backend.closeConnection();
        } else {
            throw PgProtocolException.violation("unexpected message type " + m + " during COPY");
        }
    }

    private void onFlowFinished() {
        if (!current) {
            return;
        }
        serverDone = true;
        if (!toFlowClosed) {
            toFlowClosed = true;
            toFlow.complete();
        }
        backend.send(() -> {
            if (!current) {
                return;
            }
            if (clientDone) {
                finish();
            } else {
                backend.readNextMessage(); // read (and drop) client CopyData until its CopyDone
            }
        }, new CopyDone());
    }

    private void onFlowFailed(Throwable ex) {
        if (!current) {
            return;
        }
        closePorts(ex);
        end();
        if (clientFailMessage != null) {
            onError.accept(clientFailed());
        } else {
            onError.accept(Backend.errorResponse(backend.errorResult(ex)));
        }
    }

    private void finish() {
        end();
        if (clientFailMessage != null) {
            onError.accept(clientFailed());
        } else {
            backend.send(onSuccess, new CommandComplete(tag));
        }
    }

    private ErrorResponse clientFailed() {
        return ErrorResponse.error(SqlState.QUERY_CANCELED, "COPY from stdin failed: " + clientFailMessage);
    }

    private void end() {
        current = false;
        backend.leaveCopy(this);
    }

    @Override
    public void cancel() {
        closePorts(new CopyFailedException("canceled"));
        end();
        onError.accept(ErrorResponse.error(SqlState.QUERY_CANCELED, "canceling statement due to user request"));
    }

    @Override
    public void abandon() {
        current = false;
        closePorts(null);
    }

    private void closePorts(Throwable cause) {
        if (!toFlowClosed && !toFlow.isClosed()) {
            toFlowClosed = true;
            if (cause == null) {
                toFlow.complete();
            } else {
                toFlow.fail(cause);
            }
        }
        if (!fromFlow.isClosed()) {
            fromFlow.cancel();
        }
    }
}
