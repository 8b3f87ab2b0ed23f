package org.pageserver.streams.pgwire;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.pageserver.protocol.pgwire.BackendMessage.BindComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CloseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.EmptyQueryResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.NoData;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterDescription;
import org.pageserver.protocol.pgwire.BackendMessage.ParseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.PortalSuspended;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.Bind;
import org.pageserver.protocol.pgwire.FrontendMessage.Close;
import org.pageserver.protocol.pgwire.FrontendMessage.Describe;
import org.pageserver.protocol.pgwire.FrontendMessage.Execute;
import org.pageserver.protocol.pgwire.FrontendMessage.Parse;
import org.pageserver.protocol.pgwire.PgType;
import org.pageserver.protocol.pgwire.SqlState;

/**
 * The extended query protocol without parameters (exec_parse_message, exec_bind_message,
 * exec_describe_*, exec_execute_message): Parse, Bind (zero parameters, text or binary
 * results), Describe, Execute (with row limits and PortalSuspended), Close; the driver handles
 * Sync and Flush. Describe runs the statement to learn its columns and keeps the result for the
 * Execute that follows. After an error, messages are skipped until Sync.
 */
final class ExtendedQuery {

    /** A Parse'd statement; {@code described} holds the result a Describe computed, for the next Bind. */
    private static final class Prepared {
        final String sql;
        final int[] parameterTypes;
        QueryResult described;

        Prepared(String sql, int[] parameterTypes) {
            this.sql = sql;
            this.parameterTypes = parameterTypes;
        }

        boolean empty() {
            return sql.isEmpty();
        }
    }

    private static final class Portal {
        final Prepared statement;
        final Bind bind;
        QueryResult result;
        int position;
        /** A streamed result (copy-both, copy-out, sequence) runs once: set when an Execute started it. */
        boolean streamed;

        Portal(Prepared statement, Bind bind) {
            this.statement = statement;
            this.bind = bind;
        }
    }

    private final Backend backend;
    private final Map<String, Prepared> statements = new HashMap<>();
    private final Map<String, Portal> portals = new HashMap<>();
    private boolean ignoreTillSync;

    ExtendedQuery(Backend backend) {
        this.backend = backend;
    }

    /** After an error, every message but Sync (and Terminate) is skipped. */
    boolean ignoringTillSync() {
        return ignoreTillSync;
    }

    /**
     * Sync: the end of an extended-protocol batch; the implicit transaction ends and its portals
     * with it (inside BEGIN ... COMMIT they live on).
     */
    void sync(boolean inTransaction) {
        ignoreTillSync = false;
        if (!inTransaction) {
            portals.clear();
        }
    }

    /** COMMIT or ROLLBACK: the named portals of the transaction are gone. */
    void transactionEnded() {
        portals.keySet().removeIf(k -> !k.isEmpty());
    }

    /** A simple Query replaces the unnamed statement, as exec_simple_query drops it. */
    void dropUnnamedStatement() {
        statements.remove("");
    }

    /** Acts on a Parse, Bind, Describe, Execute or Close; false for any other message. */
    boolean onMessage(FrontendMessage m) {
        if (m instanceof Parse p) {
            parse(p);
        } else if (m instanceof Bind b) {
            bind(b);
        } else if (m instanceof Describe d) {
            describe(d);
        } else if (m instanceof Execute e) {
            execute(e);
        } else if (m instanceof Close c) {
            if (c.kind() == Describe.STATEMENT) {
                statements.remove(c.name());
            } else {
                portals.remove(c.name());
            }
            backend.send(backend::readNextMessage, new CloseComplete());
        } else {
            return false;
        }
        return true;
    }

    private void fail(ErrorResponse e) {
        ignoreTillSync = true;
        backend.send(backend::readNextMessage, e);
    }

    private void fail(String sqlState, String message) {
        fail(ErrorResponse.error(sqlState, message));
    }

    private void parse(Parse p) {
        if (!p.statement().isEmpty() && statements.containsKey(p.statement())) {
            fail(SqlState.DUPLICATE_PREPARED_STATEMENT, "prepared statement \"" + p.statement() + "\" already exists");
            return;
        }
        List<String> stmts = QuerySplitter.split(p.query());
        if (stmts.size() > 1) {
            fail(SqlState.SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement");
            return;
        }
        statements.put(p.statement(), new Prepared(stmts.isEmpty() ? "" : stmts.get(0), p.parameterTypes()));
        backend.send(backend::readNextMessage, new ParseComplete());
    }

    private Prepared statement(String name) {
        Prepared s = statements.get(name);
        if (s == null) {
            fail(SqlState.INVALID_SQL_STATEMENT_NAME, name.isEmpty()
                    ? "unnamed prepared statement does not exist"
                    : "prepared statement \"" + name + "\" does not exist");
        }
        return s;
    }

    private Portal portal(String name) {
        Portal p = portals.get(name);
        if (p == null) {
            fail(SqlState.INVALID_CURSOR_NAME, "portal \"" + name + "\" does not exist");
        }
        return p;
    }

    private void bind(Bind b) {
        Prepared s = statement(b.statement());
        if (s == null) {
            return;
        }
        if (!b.parameters().isEmpty()) {
            fail(SqlState.FEATURE_NOT_SUPPORTED, "bind parameters are not supported");
            return;
        }
        if (!b.portal().isEmpty() && portals.containsKey(b.portal())) {
            fail(SqlState.DUPLICATE_CURSOR, "cursor \"" + b.portal() + "\" already exists");
            return;
        }
        Portal p = new Portal(s, b);
        p.result = s.described; // the result a Describe of the statement already computed
        s.described = null;
        portals.put(b.portal(), p);
        backend.send(backend::readNextMessage, new BindComplete());
    }

    private void describe(Describe d) {
        if (d.kind() == Describe.STATEMENT) {
            Prepared s = statement(d.name());
            if (s == null) {
                return;
            }
            ParameterDescription params = new ParameterDescription(s.parameterTypes);
            if (s.empty()) {
                backend.send(backend::readNextMessage, params, new NoData());
                return;
            }
            Consumer<QueryResult> then = r -> {
                if (r instanceof QueryResult.Error e) {
                    fail(Backend.errorResponse(e));
                    return;
                }
                s.described = r;
                backend.send(backend::readNextMessage, params, r instanceof QueryResult.Rows rows
                        ? DataRows.description(rows.columns(), null) : new NoData());
            };
            if (s.described != null) {
                then.accept(s.described);
            } else {
                backend.runStatement(s.sql, then);
            }
        } else {
            Portal p = portal(d.name());
            if (p == null) {
                return;
            }
            withPortalResult(p, r -> {
                if (r instanceof QueryResult.Rows rows) {
                    short[] formats = resultFormats(p, rows);
                    if (formats != null) {
                        backend.send(backend::readNextMessage, DataRows.description(rows.columns(), formats));
                    }
                } else {
                    backend.send(backend::readNextMessage, new NoData());
                }
            });
        }
    }

    /** The portal's result formats checked against the columns; null after reporting an error. */
    private short[] resultFormats(Portal p, QueryResult.Rows rows) {
        short[] rf = p.bind.resultFormats();
        int n = rows.columns().size();
        if (rf.length > 1 && rf.length != n) {
            fail(SqlState.PROTOCOL_VIOLATION,
                    "bind message has " + rf.length + " result formats but query has " + n + " columns");
            return null;
        }
        short[] formats = new short[n];
        for (int i = 0; i < n; i++) {
            formats[i] = p.bind.resultFormat(i);
            int oid = rows.columns().get(i).typeOid();
            if (formats[i] == 1 && !PgType.supportsBinary(oid)) {
                fail(SqlState.FEATURE_NOT_SUPPORTED, "binary output format is not supported for type OID " + oid);
                return null;
            }
        }
        return formats;
    }

    /** Runs the portal's statement once (unless a Describe did) and hands over its result. */
    private void withPortalResult(Portal p, Consumer<QueryResult> then) {
        if (p.statement.empty()) {
            then.accept(new QueryResult.Command(""));
            return;
        }
        if (p.result != null) {
            then.accept(p.result);
            return;
        }
        backend.runStatement(p.statement.sql, r -> {
            if (r instanceof QueryResult.Error e) {
                fail(Backend.errorResponse(e));
                return;
            }
            p.result = r;
            then.accept(r);
        });
    }

    private void execute(Execute e) {
        Portal p = portal(e.portal());
        if (p == null) {
            return;
        }
        if (p.statement.empty()) {
            backend.send(backend::readNextMessage, new EmptyQueryResponse());
            return;
        }
        withPortalResult(p, r -> {
            if (r instanceof QueryResult.Rows rows) {
                short[] formats = resultFormats(p, rows);
                if (formats == null) {
                    return;
                }
                int size = rows.rows().size();
                int from = p.position;
                int to = e.maxRows() > 0 ? (int) Math.min(size, (long) from + e.maxRows()) : size;
                p.position = to;
                backend.sendAll(DataRows.chunks(rows, formats, from, to, false), () -> {
                    if (to < size) {
                        backend.send(backend::readNextMessage, new PortalSuspended());
                    } else {
                        backend.send(backend::readNextMessage, new CommandComplete(rows.effectiveTag()));
                    }
                });
            } else if (r instanceof QueryResult.Command c) {
                backend.send(backend::readNextMessage, backend.commandComplete(c.commandTag()));
            } else if (r instanceof QueryResult.Error err) {
                fail(Backend.errorResponse(err));
            } else {
                if (p.streamed) {
                    fail(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "portal \"" + e.portal() + "\" cannot be run again");
                    return;
                }
                p.streamed = true;
                StreamedResult.start(backend, r, backend::readNextMessage, this::fail);
            }
        });
    }
}
