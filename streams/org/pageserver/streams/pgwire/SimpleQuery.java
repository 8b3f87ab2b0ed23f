package org.pageserver.streams.pgwire;

import java.util.ArrayDeque;

import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.EmptyQueryResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;

/**
 * The simple query protocol (exec_simple_query): a Query string is split into statements (see
 * {@link QuerySplitter}) that run in order, each with its own result messages; the first error
 * ends the string; one ReadyForQuery follows.
 */
final class SimpleQuery {

    private final Backend backend;
    /** The statements of the current Query string not run yet. */
    private final ArrayDeque<String> pending = new ArrayDeque<>();

    SimpleQuery(Backend backend) {
        this.backend = backend;
    }

    void run(String sql) {
        pending.clear();
        pending.addAll(QuerySplitter.split(sql));
        if (pending.isEmpty()) {
            backend.send(backend::readNextMessage, new EmptyQueryResponse(), backend.readyForQuery());
            return;
        }
        next();
    }

    private void next() {
        String s = pending.poll();
        if (s == null) {
            backend.send(backend::readNextMessage, backend.readyForQuery());
            return;
        }
        backend.runStatement(s, this::onResult);
    }

    private void fail(ErrorResponse e) {
        pending.clear();
        backend.send(backend::readNextMessage, e, backend.readyForQuery());
    }

    private void onResult(QueryResult r) {
        if (r instanceof QueryResult.Rows rows) {
            backend.sendAll(DataRows.chunks(rows, null, 0, rows.rows().size(), true),
                    () -> backend.send(this::next, new CommandComplete(rows.effectiveTag())));
        } else if (r instanceof QueryResult.Command c) {
            backend.send(this::next, backend.commandComplete(c.commandTag()));
        } else if (r instanceof QueryResult.Error e) {
            fail(Backend.errorResponse(e));
        } else {
            StreamedResult.start(backend, r, this::next, this::fail);
        }
    }
}
