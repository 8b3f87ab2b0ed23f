package org.pageserver.streams.pgwire;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CopyOutResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.MessageLimits;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.SqlState;

/**
 * One COPY OUT ({@link QueryResult.CopyOut}): CopyOutResponse, the source's elements as
 * CopyData, CopyDone (and CommandComplete unless it is a part of a {@link QueryResult.Sequence}).
 *
 * <p>Flow control: the source's next element is asked for only once every CopyData of the
 * previous one has been handed to the transport, so at most one element is held. As in
 * PostgreSQL's COPY TO, no client message is read until the copy is over (a CancelRequest
 * comes on its own connection).
 */
final class CopyOutMode implements CopyMode {

    /** Largest CopyData payload sent: PostgreSQL's own COPY TO sends far smaller ones. */
    static final int MAX_PAYLOAD = 64 * 1024;

    /** Overall format 0 and no columns, as PostgreSQL 15's BASE_BACKUP (SendCopyOutResponse). */
    private static final CopyOutResponse BYTE_STREAM = new CopyOutResponse(0, new short[0]);

    private final Backend backend;
    /** Null when the copy is a part of a sequence: no CommandComplete after CopyDone. */
    private final String tag;
    private final Runnable onSuccess;
    private final Consumer<ErrorResponse> onError;
    private final GraphStageLogic.SubSinkInlet<ByteString> fromSource;
    private final int maxPayload;
    /** Until the copy ends, is cancelled or abandoned: later sub-stream signals are ignored. */
    private boolean current = true;

    private CopyOutMode(Backend backend, String tag, Runnable onSuccess, Consumer<ErrorResponse> onError) {
        this.backend = backend;
        this.tag = tag;
        this.onSuccess = onSuccess;
        this.onError = onError;
        this.maxPayload = Math.min(MAX_PAYLOAD, backend.maxMessageSize());
        this.fromSource = backend.subSink("PgServer.copyOutSource");
        fromSource.setHandler(new AbstractInHandler() {
            @Override
            public void onPush() {
                ByteString data = fromSource.grab();
                if (data.isEmpty()) {
                    fromSource.pull();
                    return;
                }
                backend.sendAll(new Frames(data, maxPayload), () -> {
                    if (current && !fromSource.isClosed()) {
                        fromSource.pull();
                    }
                });
            }

            @Override
            public void onUpstreamFinish() {
                backend.guarded(CopyOutMode.this::onSourceFinished);
            }

            @Override
            public void onUpstreamFailure(Throwable ex) {
                backend.guarded(() -> onSourceFailed(ex));
            }
        });
    }

    /**
     * Enters copy-out mode, answers CopyOutResponse and then runs {@code data}; {@code tag} null
     * sends no CommandComplete after CopyDone.
     */
    static void start(Backend backend, Source<ByteString, ?> data, String tag, Runnable onSuccess,
                      Consumer<ErrorResponse> onError) {
        CopyOutMode c = new CopyOutMode(backend, tag, onSuccess, onError);
        backend.enterCopy(c);
        backend.send(() -> c.run(data), BYTE_STREAM);
    }

    private void run(Source<ByteString, ?> data) {
        if (!current) {
            return;
        }
        try {
            data.runWith(fromSource.sink(), backend.subMaterializer());
        } catch (RuntimeException ex) {
            onSourceFailed(ex);
            return;
        }
        fromSource.pull();
    }

    private void onSourceFinished() {
        if (!current) {
            return;
        }
        end();
        backend.send(onSuccess, tag == null ? new PgMessage[] {new CopyDone()}
                : new PgMessage[] {new CopyDone(), new CommandComplete(tag)});
    }

    private void onSourceFailed(Throwable ex) {
        if (!current) {
            return;
        }
        end();
        onError.accept(Backend.errorResponse(backend.errorResult(ex)));
    }

    private void end() {
        current = false;
        backend.leaveCopy(this);
    }

    /** The session's: COPY OUT reads no client message, the next one is read after it. */
    @Override
    public MessageLimits messageLimits() {
        return MessageLimits.session(backend.maxMessageSize());
    }

    @Override
    public void onMessage(FrontendMessage m) {
        throw new IllegalStateException("client message " + m + " read during COPY OUT, which reads none");
    }

    @Override
    public void cancel() {
        fromSource.cancel();
        end();
        onError.accept(ErrorResponse.error(SqlState.QUERY_CANCELED, "canceling statement due to user request"));
    }

    @Override
    public void abandon() {
        current = false;
        if (!fromSource.isClosed()) {
            fromSource.cancel();
        }
    }

    /** One element as CopyData messages of at most {@code maxPayload} bytes each, without copying it. */
    private static final class Frames implements Iterator<ByteString> {
        private final ByteString data;
        private final int maxPayload;
        private int offset;

        Frames(ByteString data, int maxPayload) {
            this.data = data;
            this.maxPayload = maxPayload;
        }

        @Override
        public boolean hasNext() {
            return offset < data.size();
        }

        @Override
        public ByteString next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            int n = Math.min(maxPayload, data.size() - offset);
            ByteString payload = data.slice(offset, offset + n);
            offset += n;
            return ByteString.fromArrayUnsafe(CopyData.header(n)).concat(payload);
        }
    }
}
