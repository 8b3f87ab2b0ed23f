package org.pageserver.streams.pgwire;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection's {@link PgSession} and the statement running in it. Statements are handed over
 * one at a time; the answer comes back to the stage through an async callback. Each run has its
 * own token, so that the late answer of a cancelled statement is ignored.
 */
final class StatementRunner {

    private static final Logger log = LoggerFactory.getLogger(StatementRunner.class);

    /** The answer to run number {@code token}, as the session's stage completed. */
    record Completion(int token, QueryResult result, Throwable error) {
    }

    private final PgSession session;
    /** Hands a completion over to the stage (an AsyncCallback). */
    private final Consumer<Completion> toStage;
    /** The connection's process id, for the log. */
    private final int processId;
    private int token;
    private Consumer<QueryResult> pending;

    StatementRunner(PgSession session, Consumer<Completion> toStage, int processId) {
        this.session = session;
        this.toStage = toStage;
        this.processId = processId;
    }

    /** Runs one statement; {@code then} gets the result, a failure as a {@link QueryResult.Error}. */
    void run(String sql, Consumer<QueryResult> then) {
        int t = ++token;
        pending = then;
        CompletionStage<QueryResult> cs;
        try {
            cs = session.query(sql);
            if (cs == null) {
                cs = CompletableFuture.failedFuture(new IllegalStateException("PgSession.query returned null"));
            }
        } catch (RuntimeException e) {
            cs = CompletableFuture.failedFuture(e);
        }
        cs.whenComplete((r, ex) -> toStage.accept(new Completion(t, r, ex)));
    }

    /** On the stage: the session answered. */
    void onCompletion(Completion c) {
        if (c.token() != token || pending == null) {
            return; // answered already (cancelled) or connection closing
        }
        Consumer<QueryResult> then = pending;
        pending = null;
        QueryResult r;
        if (c.error() != null) {
            r = errorResult(c.error());
        } else if (c.result() == null) {
            r = new QueryResult.Error(SqlState.INTERNAL_ERROR, "PgSession.query completed without a result");
        } else {
            r = c.result();
        }
        then.accept(r);
    }

    /** A failed statement (or copy stream): the SQLSTATE of a PgProtocolException, else XX000. */
    QueryResult.Error errorResult(Throwable failure) {
        Throwable e = failure;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof PgProtocolException p) {
            return new QueryResult.Error(p.sqlState(), p.getMessage());
        }
        log.warn("statement failed on connection {}", processId, e);
        String msg = e.getMessage() != null ? e.getMessage() : e.getClass().getName();
        return new QueryResult.Error(SqlState.INTERNAL_ERROR, msg);
    }

    boolean running() {
        return pending != null;
    }

    /** CancelRequest: the running statement is answered 57014 now; false if none runs. */
    boolean cancel() {
        if (pending == null) {
            return false;
        }
        Consumer<QueryResult> then = pending;
        pending = null;
        token++;
        cancelSession();
        then.accept(new QueryResult.Error(SqlState.QUERY_CANCELED, "canceling statement due to user request"));
        return true;
    }

    /** Lets the session stop its work (a cancelled statement or copy). */
    void cancelSession() {
        try {
            session.cancel();
        } catch (RuntimeException e) {
            log.warn("PgSession.cancel failed", e);
        }
    }

    /** The connection is closing: whatever the running statement answers is ignored. */
    void abandon() {
        pending = null;
        token++;
    }

    /** The connection is gone; called once. */
    void close() {
        try {
            session.close();
        } catch (RuntimeException e) {
            log.warn("PgSession.close failed", e);
        }
    }
}
