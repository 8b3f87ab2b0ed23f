package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationOk;
import org.pageserver.protocol.pgwire.BackendMessage.BackendKeyData;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterStatus;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.CopyFail;
import org.pageserver.protocol.pgwire.FrontendMessage.Flush;
import org.pageserver.protocol.pgwire.FrontendMessage.Query;
import org.pageserver.protocol.pgwire.FrontendMessage.StartupMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.Sync;
import org.pageserver.protocol.pgwire.FrontendMessage.Terminate;
import org.pageserver.protocol.pgwire.MessageLimits;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.PgWriter;
import org.pageserver.protocol.pgwire.SqlState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of one pgwire connection as a single stage, bytes from the client in, bytes
 * to the client out: the protocol driver (PostgresMain's message loop, postgres.c). It frames
 * the client's bytes, runs {@link Authentication} until the user is known, opens the
 * {@link PgSession}, and then hands each message to the handler of its sub-protocol
 * ({@link SimpleQuery}, {@link ExtendedQuery}, or the current {@link CopyMode}) through the
 * {@link Backend} face; it owns the ReadyForQuery cycle, cancel and termination, and ends the
 * connection with a FATAL ErrorResponse on a protocol error.
 *
 * <p>Flow control: the stage reads (pulls) the next client message only when a handler is
 * ready to act on it -- after the previous message's answer has been handed downstream -- so a
 * client that stops reading stops the server from reading; nothing is buffered beyond one
 * message and the answer being written (results go out lazily in chunks).
 *
 * <p>Message sizes: which messages the client may send, and how large, follows the phase
 * ({@link MessageLimits}: password and SASL messages while authenticating, the session's bounds
 * with {@code maxMessageSize} for queries, the copy's own bound for CopyData during a copy); the
 * decoder refuses anything else from its header, before the body is read.
 *
 * <p>Phases: STARTUP (until authenticated), READY (queries; also while a statement runs, when
 * no input is read), COPY (a copy sub-protocol runs), CLOSING (a FATAL ErrorResponse is on its
 * way and the connection closes after it).
 */
final class PgServerStage extends GraphStage<FlowShape<ByteString, ByteString>> {

    private static final Logger log = LoggerFactory.getLogger(PgServerStage.class);

    private static final ReadyForQuery READY_IDLE = new ReadyForQuery(ReadyForQuery.IDLE);
    private static final ReadyForQuery READY_IN_TRANSACTION = new ReadyForQuery(ReadyForQuery.IN_TRANSACTION);

    /** What a connection needs from its server. */
    record Context(Authenticator authenticator, PgSessionHandler handler, PgWireServer.Settings settings,
                   InetSocketAddress remote, ConnectionRegistry registry, boolean overLimit,
                   LongAdder passwordFailures, Runnable onStop) {
    }

    private final Inlet<ByteString> in = Inlet.create("PgServer.in");
    private final Outlet<ByteString> out = Outlet.create("PgServer.out");
    private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);
    private final Context ctx;

    PgServerStage(Context ctx) {
        this.ctx = ctx;
    }

    @Override
    public FlowShape<ByteString, ByteString> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
        return new Logic();
    }

    private enum Phase { STARTUP, READY, COPY, CLOSING }

    private static final Object AUTH_TIMER = "authentication-timeout";
    private static final Object CLOSE_TIMER = "close-timeout";
    /** How long a FATAL goodbye may wait for a client that does not read before the connection is cut. */
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final class Logic extends TimerGraphStageLogic implements Backend {

        private final MessageLimits sessionLimits = MessageLimits.session(ctx.settings().maxMessageSize());
        private final PgFrameDecoder decoder = PgFrameDecoder.forServer(MessageLimits.authentication());
        private Phase phase = Phase.STARTUP;
        /** True when a handler is ready to act on the next client message. */
        private boolean wantFrame = true;
        private boolean processing;
        private boolean upstreamDone;

        /** In phase STARTUP only. */
        private Authentication authentication = new Authentication(this, ctx.authenticator(),
                ctx.registry(), ctx.remote(), ctx.overLimit(), ctx.passwordFailures(), this::authenticated);
        /** From authentication on: the connection's entry in the registry, its session and its queries. */
        private ConnectionRegistry.Key key;
        private StatementRunner statements;
        private SimpleQuery simple;
        private ExtendedQuery extended;
        /**
         * Between a BEGIN and a COMMIT/ROLLBACK command tag. pageserver has no transactions; it
         * follows these tags so that clients that wrap statements in a transaction (pgjdbc with
         * autocommit off) see 'T' and keep their portals across Syncs.
         */
        private boolean inTransaction;
        /** In phase COPY only. */
        private CopyMode copy;

        private final AsyncCallback<StatementRunner.Completion> completionCallback =
                createAsyncCallback(c -> guarded(() -> statements.onCompletion(c)));
        private final AsyncCallback<Boolean> cancelCallback = createAsyncCallback(b -> guarded(this::onCancel));
        private final AsyncCallback<Boolean> terminateCallback = createAsyncCallback(b -> onTerminate());

        Logic() {
            super(shape);
            setHandler(in, new AbstractInHandler() {
                @Override
                public void onPush() {
                    for (ByteBuffer bb : grab(in).getByteBuffers()) {
                        decoder.feed(bb);
                    }
                    if (wantFrame) {
                        processFrames();
                    }
                }

                @Override
                public void onUpstreamFinish() {
                    upstreamDone = true;
                    if (wantFrame) {
                        processFrames();
                    } else if ((statements != null && statements.running()) || phase == Phase.COPY) {
                        // the client is gone while a statement or copy runs: abandon it
                        completeStage();
                    }
                }

                @Override
                public void onUpstreamFailure(Throwable ex) {
                    log.debug("connection from {} failed: {}", ctx.remote(), ex.toString());
                    completeStage();
                }
            });
            setHandler(out, new AbstractOutHandler() {
                @Override
                public void onPull() {
                    // all output goes through emit(), which installs its own handler while busy
                }

                @Override
                public void onDownstreamFinish(Throwable cause) {
                    completeStage();
                }
            });
        }

        @Override
        public void preStart() {
            // authentication_timeout: a client must be through startup and authentication in time
            scheduleOnce(AUTH_TIMER, ctx.settings().authenticationTimeout());
            processFrames();
        }

        @Override
        public void onTimer(Object timerKey) {
            if (timerKey == AUTH_TIMER) {
                if (phase == Phase.STARTUP) {
                    fatal(SqlState.QUERY_CANCELED, "canceling authentication due to timeout");
                }
            } else if (timerKey == CLOSE_TIMER) {
                // the FATAL message could not be delivered in time (client not reading): drop it
                completeStage();
            }
        }

        @Override
        public void postStop() {
            if (copy != null) {
                try {
                    copy.abandon();
                } catch (RuntimeException e) {
                    log.debug("closing copy sub-streams on stop: {}", e.toString());
                }
            }
            if (key != null) {
                ctx.registry().unregister(key.processId());
            }
            if (statements != null) {
                StatementRunner s = statements;
                statements = null;
                s.close();
            }
            if (ctx.onStop() != null) {
                ctx.onStop().run();
            }
        }

        // ------------------------------------------------------------ framing

        @Override
        public void readNextMessage() {
            if (phase == Phase.CLOSING) {
                return;
            }
            wantFrame = true;
            processFrames();
        }

        /** Acts on buffered frames while a handler wants them; pulls when it needs more bytes. */
        private void processFrames() {
            if (processing) {
                return;
            }
            processing = true;
            try {
                while (wantFrame && phase != Phase.CLOSING) {
                    PgFrame frame;
                    try {
                        frame = decoder.next();
                    } catch (PgProtocolException e) {
                        fatal(e.sqlState(), e.getMessage());
                        return;
                    }
                    if (frame == null) {
                        if (upstreamDone) {
                            completeStage();
                        } else if (!hasBeenPulled(in) && !isClosed(in)) {
                            pull(in);
                        }
                        return;
                    }
                    wantFrame = false;
                    final PgFrame f = frame;
                    guarded(() -> onFrame(f));
                }
            } finally {
                processing = false;
            }
        }

        @Override
        public void guarded(Runnable code) {
            try {
                code.run();
            } catch (PgProtocolException e) {
                fatal(e.sqlState(), e.getMessage());
            } catch (RuntimeException e) {
                log.error("internal error on connection from {}", ctx.remote(), e);
                fatal(SqlState.INTERNAL_ERROR, "internal error: " + e);
            }
        }

        private void onFrame(PgFrame f) {
            switch (phase) {
                case STARTUP -> authentication.onFrame(f);
                case READY -> onQueryMessage(FrontendMessage.parse(f));
                case COPY -> copy.onMessage(FrontendMessage.parse(f));
                case CLOSING -> {
                }
            }
        }

        // ------------------------------------------------------------ output

        @Override
        public void send(Runnable andThen, PgMessage... messages) {
            PgWriter w = new PgWriter();
            for (PgMessage m : messages) {
                m.write(w);
            }
            sendBytes(ByteString.fromArrayUnsafe(w.toByteArray()), andThen);
        }

        @Override
        public void sendBytes(ByteString bytes, Runnable andThen) {
            emit(out, bytes, () -> guarded(andThen));
        }

        @Override
        public void sendAll(Iterator<ByteString> chunks, Runnable andThen) {
            emitMultiple(out, chunks, () -> guarded(andThen));
        }

        private void fatal(String sqlState, String message) {
            if (phase == Phase.CLOSING) {
                return;
            }
            log.debug("closing connection from {}: FATAL {} {}", ctx.remote(), sqlState, message);
            phase = Phase.CLOSING;
            wantFrame = false;
            authentication = null;
            if (statements != null) {
                statements.abandon();
            }
            if (copy != null) {
                copy.abandon();
                copy = null;
            }
            if (isClosed(out)) {
                completeStage();
                return;
            }
            scheduleOnce(CLOSE_TIMER, CLOSE_TIMEOUT);
            send(this::completeStage, ErrorResponse.fatal(sqlState, message));
        }

        @Override
        public void closeConnection() {
            completeStage();
        }

        // ------------------------------------------------------------ session start

        /** Authentication done: open the session and say hello (AuthenticationOk .. ReadyForQuery). */
        private void authenticated(StartupMessage startup, List<PgMessage> reply) {
            key = ctx.registry().register(new ConnectionRegistry.Control() {
                @Override
                public void cancel() {
                    cancelCallback.invoke(Boolean.TRUE);
                }

                @Override
                public void terminate() {
                    terminateCallback.invoke(Boolean.TRUE);
                }
            });
            Map<String, String> params = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : startup.parameters().entrySet()) {
                if (!e.getKey().startsWith("_pq_.")) {
                    params.put(e.getKey(), e.getValue());
                }
            }
            String user = startup.user();
            String appName = params.getOrDefault("application_name", "");
            SessionInfo info = new SessionInfo(user, startup.database(), appName, ctx.remote(), params,
                    key.processId());
            PgSession session;
            try {
                session = ctx.handler().open(info);
                if (session == null) {
                    throw new IllegalStateException("PgSessionHandler.open returned null");
                }
            } catch (PgProtocolException e) {
                throw e;
            } catch (RuntimeException e) {
                log.error("PgSessionHandler.open failed for {}", info, e);
                throw new PgProtocolException(SqlState.INTERNAL_ERROR, "could not open session: " + e.getMessage());
            }
            statements = new StatementRunner(session, completionCallback::invoke, key.processId());
            simple = new SimpleQuery(this);
            extended = new ExtendedQuery(this);
            authentication = null;
            reply.add(new AuthenticationOk());
            // The GUC_REPORT parameters PostgreSQL 15 reports at startup, in its order.
            reply.add(new ParameterStatus("application_name", appName));
            reply.add(new ParameterStatus("client_encoding", "UTF8"));
            reply.add(new ParameterStatus("DateStyle", "ISO, MDY"));
            reply.add(new ParameterStatus("default_transaction_read_only", "off"));
            reply.add(new ParameterStatus("in_hot_standby", "off"));
            reply.add(new ParameterStatus("integer_datetimes", "on"));
            reply.add(new ParameterStatus("IntervalStyle", "postgres"));
            reply.add(new ParameterStatus("is_superuser", "off"));
            reply.add(new ParameterStatus("server_encoding", "UTF8"));
            reply.add(new ParameterStatus("server_version", ctx.settings().serverVersion()));
            reply.add(new ParameterStatus("session_authorization", user));
            reply.add(new ParameterStatus("standard_conforming_strings", "on"));
            reply.add(new ParameterStatus("TimeZone", "UTC"));
            reply.add(new BackendKeyData(key.processId(), key.secretKey()));
            reply.add(readyForQuery());
            phase = Phase.READY;
            decoder.limits(sessionLimits);
            cancelTimer(AUTH_TIMER);
            log.debug("session opened: {}", info);
            send(this::readNextMessage, reply.toArray(new PgMessage[0]));
        }

        // ------------------------------------------------------------ the ready-for-query cycle

        private void onQueryMessage(FrontendMessage m) {
            if (m instanceof Sync) {
                extended.sync(inTransaction);
                send(this::readNextMessage, readyForQuery());
                return;
            }
            if (m instanceof Terminate) {
                completeStage();
                return;
            }
            if (extended.ignoringTillSync()) {
                readNextMessage();
                return;
            }
            if (m instanceof Query q) {
                extended.dropUnnamedStatement();
                simple.run(q.sql());
            } else if (extended.onMessage(m)) {
                return;
            } else if (m instanceof Flush) {
                readNextMessage();
            } else if (m instanceof CopyData || m instanceof CopyDone || m instanceof CopyFail) {
                // As PostgresMain: accept but ignore, the client may still be sending after a
                // failed COPY.
                readNextMessage();
            } else {
                throw PgProtocolException.violation("unexpected message " + m + " in an idle session");
            }
        }

        @Override
        public void runStatement(String sql, Consumer<QueryResult> then) {
            statements.run(sql, then);
        }

        @Override
        public ReadyForQuery readyForQuery() {
            return inTransaction ? READY_IN_TRANSACTION : READY_IDLE;
        }

        @Override
        public CommandComplete commandComplete(String tag) {
            String t = tag.trim().toUpperCase(Locale.ROOT);
            if (t.equals("BEGIN") || t.equals("START TRANSACTION")) {
                inTransaction = true;
            } else if (t.equals("COMMIT") || t.equals("ROLLBACK") || t.equals("END") || t.equals("ABORT")) {
                inTransaction = false;
                extended.transactionEnded();
            }
            return new CommandComplete(tag);
        }

        @Override
        public QueryResult.Error errorResult(Throwable failure) {
            return statements.errorResult(failure);
        }

        @Override
        public int maxMessageSize() {
            return ctx.settings().maxMessageSize();
        }

        private void onCancel() {
            if (phase == Phase.CLOSING || statements.cancel()) {
                return;
            }
            if (copy != null) {
                statements.cancelSession();
                copy.cancel();
            }
        }

        private void onTerminate() {
            fatal(SqlState.ADMIN_SHUTDOWN, "terminating connection due to administrator command");
        }

        // ------------------------------------------------------------ copy mode

        @Override
        public void enterCopy(CopyMode c) {
            copy = c;
            phase = Phase.COPY;
            decoder.limits(c.messageLimits());
        }

        @Override
        public void leaveCopy(CopyMode c) {
            if (copy == c) {
                copy = null;
                if (phase == Phase.COPY) {
                    phase = Phase.READY;
                    decoder.limits(sessionLimits);
                }
            }
        }

        @Override
        public <T> GraphStageLogic.SubSourceOutlet<T> subSource(String name) {
            return new SubSourceOutlet<>(name);
        }

        @Override
        public <T> GraphStageLogic.SubSinkInlet<T> subSink(String name) {
            return new SubSinkInlet<>(name);
        }

        @Override
        public Materializer subMaterializer() {
            return subFusingMaterializer();
        }
    }
}
