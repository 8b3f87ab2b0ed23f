package org.pageserver.streams.pgwire;

import java.util.Iterator;
import java.util.function.Consumer;

import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;

/**
 * The results that are sent as streams rather than answered at once: copy-both, copy-out, and
 * a {@link QueryResult.Sequence} of result sets and copy-outs, whose parts go out one after
 * the other.
 */
final class StreamedResult {

    private final Backend backend;
    private final Iterator<QueryResult.Part> parts;
    private final String tag;
    private final Runnable onSuccess;
    private final Consumer<ErrorResponse> onError;

    private StreamedResult(Backend backend, QueryResult.Sequence s, Runnable onSuccess,
                           Consumer<ErrorResponse> onError) {
        this.backend = backend;
        this.parts = s.parts().iterator();
        this.tag = s.commandTag();
        this.onSuccess = onSuccess;
        this.onError = onError;
    }

    /**
     * Sends {@code r}, a CopyBoth, CopyOut or Sequence; then runs {@code onSuccess}, or hands
     * the ErrorResponse that ended it to {@code onError}.
     */
    static void start(Backend backend, QueryResult r, Runnable onSuccess, Consumer<ErrorResponse> onError) {
        if (r instanceof QueryResult.CopyBoth cb) {
            CopyBothMode.start(backend, cb, onSuccess, onError);
        } else if (r instanceof QueryResult.CopyOut co) {
            CopyOutMode.start(backend, co.data(), co.commandTag(), onSuccess, onError);
        } else if (r instanceof QueryResult.Sequence s) {
            new StreamedResult(backend, s, onSuccess, onError).next();
        } else {
            throw new IllegalArgumentException("not a streamed result: " + r);
        }
    }

    private void next() {
        if (!parts.hasNext()) {
            backend.send(onSuccess, new CommandComplete(tag));
            return;
        }
        QueryResult.Part p = parts.next();
        if (p instanceof QueryResult.Rows rows) {
            backend.sendAll(DataRows.chunks(rows, null, 0, rows.rows().size(), true),
                    () -> backend.send(this::next, new CommandComplete(rows.effectiveTag())));
        } else if (p instanceof QueryResult.CopyOut co) {
            CopyOutMode.start(backend, co.data(), null, this::next, onError);
        }
    }
}
