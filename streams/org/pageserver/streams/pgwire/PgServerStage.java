package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationOk;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASL;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLContinue;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLFinal;
import org.pageserver.protocol.pgwire.BackendMessage.BackendKeyData;
import org.pageserver.protocol.pgwire.BackendMessage.BindComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CloseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.CopyBothResponse;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.EmptyQueryResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.NegotiateProtocolVersion;
import org.pageserver.protocol.pgwire.BackendMessage.NoData;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterDescription;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterStatus;
import org.pageserver.protocol.pgwire.BackendMessage.ParseComplete;
import org.pageserver.protocol.pgwire.BackendMessage.PortalSuspended;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.Bind;
import org.pageserver.protocol.pgwire.FrontendMessage.CancelRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.Close;
import org.pageserver.protocol.pgwire.FrontendMessage.CopyFail;
import org.pageserver.protocol.pgwire.FrontendMessage.Describe;
import org.pageserver.protocol.pgwire.FrontendMessage.Execute;
import org.pageserver.protocol.pgwire.FrontendMessage.Flush;
import org.pageserver.protocol.pgwire.FrontendMessage.GSSENCRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.Parse;
import org.pageserver.protocol.pgwire.FrontendMessage.PasswordKind;
import org.pageserver.protocol.pgwire.FrontendMessage.Query;
import org.pageserver.protocol.pgwire.FrontendMessage.SASLInitialResponse;
import org.pageserver.protocol.pgwire.FrontendMessage.SASLResponse;
import org.pageserver.protocol.pgwire.FrontendMessage.SSLRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.StartupMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.Sync;
import org.pageserver.protocol.pgwire.FrontendMessage.Terminate;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.PgType;
import org.pageserver.protocol.pgwire.PgWriter;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.protocol.pgwire.SqlState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of one pgwire connection as a single stage: bytes from the client in, bytes
 * to the client out. It plays the parts of PostgreSQL's ProcessStartupPacket and
 * ClientAuthentication (postmaster.c, auth.c) and of PostgresMain's message loop (postgres.c).
 *
 * <p>Flow control: the stage reads (pulls) the next client message only when it is ready to
 * act on it -- after the previous message's answer has been handed downstream -- so a client
 * that stops reading stops the server from reading; nothing is buffered beyond one message and
 * the answer being written (row results go out lazily in chunks). In copy-both mode client
 * CopyData is read only when the copy flow asks for more input, and the flow's next element is
 * requested only after the previous CopyData has been written.
 *
 * <p>Phases: STARTUP (untyped packets; SSLRequest/GSSENCRequest answered 'N'), AUTH_* (the
 * SCRAM exchange), READY (queries; also while a statement runs, when no input is read), COPY,
 * CLOSING (a FATAL ErrorResponse is on its way and the connection closes after it).
 *
 * <p>Simple Query strings holding several statements are split (see {@link QuerySplitter}) and
 * run in order, each with its own result messages; the first error ends the string; one
 * ReadyForQuery follows. The extended protocol is supported without parameters: Parse, Bind
 * (zero parameters, text or binary results), Describe, Execute (with row limits and
 * PortalSuspended), Close, Sync, Flush; Describe runs the statement to learn its columns and
 * keeps the result for the Execute that follows.
 */
final class PgServerStage extends GraphStage<FlowShape<ByteString, ByteString>> {

    private static final Logger log = LoggerFactory.getLogger(PgServerStage.class);

    /** Rows are sent in chunks of about this many bytes. */
    private static final int ROW_CHUNK_BYTES = 64 * 1024;

    private static final ReadyForQuery READY_IDLE = new ReadyForQuery(ReadyForQuery.IDLE);
    private static final ReadyForQuery READY_IN_TRANSACTION = new ReadyForQuery(ReadyForQuery.IN_TRANSACTION);

    /** What a connection needs from its server. */
    record Context(Authenticator authenticator, PgSessionHandler handler, PgWireServer.Settings settings,
                   InetSocketAddress remote, ConnectionRegistry registry, boolean overLimit, Runnable onStop) {
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

    private enum Phase { STARTUP, AUTH_SASL_INITIAL, AUTH_SASL_CONTINUE, READY, COPY, CLOSING }

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
        boolean copyStarted;

        Portal(Prepared statement, Bind bind) {
            this.statement = statement;
            this.bind = bind;
        }
    }

    private static final class CopyState {
        GraphStageLogic.SubSourceOutlet<ByteString> toFlow;
        GraphStageLogic.SubSinkInlet<ByteString> fromFlow;
        String tag;
        Runnable onSuccess;
        Consumer<ErrorResponse> onError;
        boolean clientDone;
        boolean serverDone;
        boolean toFlowClosed;
        String clientFailMessage;
    }

    private record Completion(int token, QueryResult result, Throwable error) {
    }

    private static final Object AUTH_TIMER = "authentication-timeout";
    private static final Object CLOSE_TIMER = "close-timeout";
    /** How long a FATAL goodbye may wait for a client that does not read before the connection is cut. */
    private static final java.time.Duration CLOSE_TIMEOUT = java.time.Duration.ofSeconds(5);

    /** What the client's CopyFail turns into inside the copy flow. */
    static final class CopyFailedException extends RuntimeException {
        CopyFailedException(String message) {
            super("COPY from stdin failed: " + message);
        }
    }

    private final class Logic extends TimerGraphStageLogic {

        private final PgFrameDecoder decoder = PgFrameDecoder.forServer(ctx.settings().maxMessageSize());
        private Phase phase = Phase.STARTUP;
        /** True when the stage is ready to act on the next client message. */
        private boolean wantFrame = true;
        private boolean processing;
        private boolean upstreamDone;

        private String user;
        private StartupMessage startup;
        private Scram.ServerExchange scram;
        private PgSession session;
        private ConnectionRegistry.Key key;

        private int requestToken;
        private Consumer<QueryResult> pendingThen;
        private ArrayDeque<String> simplePending = new ArrayDeque<>();
        private final Map<String, Prepared> statements = new HashMap<>();
        private final Map<String, Portal> portals = new HashMap<>();
        private boolean ignoreTillSync;
        /** Between a BEGIN and a COMMIT/ROLLBACK command tag (portals live on across Syncs). */
        private boolean inTransaction;
        private CopyState copy;

        private final AsyncCallback<Completion> completionCallback =
                createAsyncCallback(c -> guarded(() -> onCompletion(c)));
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
                    } else if (pendingThen != null || phase == Phase.COPY) {
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
                if (phase != Phase.READY && phase != Phase.COPY && phase != Phase.CLOSING) {
                    fatal(SqlState.QUERY_CANCELED, "canceling authentication due to timeout");
                }
            } else if (timerKey == CLOSE_TIMER) {
                // the FATAL message could not be delivered in time (client not reading): drop it
                completeStage();
            }
        }

        @Override
        public void postStop() {
            try {
                closeCopyPorts(null);
            } catch (RuntimeException e) {
                log.debug("closing copy sub-streams on stop: {}", e.toString());
            }
            if (key != null) {
                ctx.registry().unregister(key.processId());
            }
            if (session != null) {
                PgSession s = session;
                session = null;
                try {
                    s.close();
                } catch (RuntimeException e) {
                    log.warn("PgSession.close failed", e);
                }
            }
            if (ctx.onStop() != null) {
                ctx.onStop().run();
            }
        }

        // ------------------------------------------------------------ input loop

        private void resume() {
            if (phase == Phase.CLOSING) {
                return;
            }
            wantFrame = true;
            processFrames();
        }

        /** Acts on buffered frames while the stage wants them; pulls when it needs more bytes. */
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
                    guarded(() -> handleFrame(f));
                }
            } finally {
                processing = false;
            }
        }

        /** Runs protocol code; a protocol error ends the connection with a FATAL ErrorResponse. */
        private void guarded(Runnable r) {
            try {
                r.run();
            } catch (PgProtocolException e) {
                fatal(e.sqlState(), e.getMessage());
            } catch (RuntimeException e) {
                log.error("internal error on connection from {}", ctx.remote(), e);
                fatal(SqlState.INTERNAL_ERROR, "internal error: " + e);
            }
        }

        private void handleFrame(PgFrame f) {
            switch (phase) {
                case STARTUP -> handleStartupPacket(FrontendMessage.parseStartup(f));
                case AUTH_SASL_INITIAL -> handleSaslInitial(f);
                case AUTH_SASL_CONTINUE -> handleSaslContinue(f);
                case READY -> handleReady(FrontendMessage.parse(f));
                case COPY -> handleCopy(FrontendMessage.parse(f));
                case CLOSING -> {
                }
            }
        }

        // ------------------------------------------------------------ output

        private void send(Runnable andThen, PgMessage... messages) {
            PgWriter w = new PgWriter();
            for (PgMessage m : messages) {
                m.write(w);
            }
            emit(out, ByteString.fromArrayUnsafe(w.toByteArray()), () -> guarded(andThen));
        }

        private void fatal(String sqlState, String message) {
            if (phase == Phase.CLOSING) {
                return;
            }
            log.debug("closing connection from {}: FATAL {} {}", ctx.remote(), sqlState, message);
            phase = Phase.CLOSING;
            wantFrame = false;
            pendingThen = null;
            requestToken++;
            closeCopyPorts(null);
            copy = null;
            if (isClosed(out)) {
                completeStage();
                return;
            }
            scheduleOnce(CLOSE_TIMER, CLOSE_TIMEOUT);
            send(this::completeStage, ErrorResponse.fatal(sqlState, message));
        }

        // ------------------------------------------------------------ startup and authentication

        private void handleStartupPacket(FrontendMessage m) {
            if (m instanceof SSLRequest || m instanceof GSSENCRequest) {
                // No TLS, no GSSAPI encryption: answer 'N'; the client then sends its StartupMessage.
                emit(out, ByteString.fromArrayUnsafe(new byte[] {'N'}), () -> guarded(this::resume));
            } else if (m instanceof CancelRequest c) {
                boolean done = ctx.registry().cancel(c.processId(), c.secretKey());
                log.debug("cancel request for pid {} from {}: {}", c.processId(), ctx.remote(),
                        done ? "delivered" : "no matching connection");
                completeStage();
            } else if (m instanceof StartupMessage s) {
                handleStartupMessage(s);
            } else {
                throw PgProtocolException.violation("unexpected startup packet " + m);
            }
        }

        private void handleStartupMessage(StartupMessage s) {
            if (ctx.overLimit()) {
                throw new PgProtocolException(SqlState.TOO_MANY_CONNECTIONS, "sorry, too many clients already");
            }
            user = s.user();
            if (user == null || user.isEmpty()) {
                throw new PgProtocolException(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                        "no PostgreSQL user name specified in startup packet");
            }
            startup = s;
            List<PgMessage> reply = new ArrayList<>();
            // SendNegotiateProtocolVersion: we speak 3.0 only and know no _pq_ options.
            List<String> unknownOptions = new ArrayList<>();
            for (String k : s.parameters().keySet()) {
                if (k.startsWith("_pq_.")) {
                    unknownOptions.add(k);
                }
            }
            if (s.minorVersion() > 0 || !unknownOptions.isEmpty()) {
                reply.add(new NegotiateProtocolVersion(0, unknownOptions));
            }
            Authenticator.Method method = ctx.authenticator().methodFor(user, s.database(), ctx.remote());
            if (method instanceof Authenticator.Trust) {
                finishStartup(reply);
            } else if (method instanceof Authenticator.ScramSha256 sc) {
                scram = Scram.ServerExchange.forSecret(sc.secret());
                startSasl(reply);
            } else if (method instanceof Authenticator.UnknownUser) {
                scram = Scram.ServerExchange.mock(user);
                startSasl(reply);
            } else if (method instanceof Authenticator.Reject r) {
                throw new PgProtocolException(r.sqlState(), r.message());
            } else {
                throw new IllegalStateException("Authenticator returned " + method);
            }
        }

        private void startSasl(List<PgMessage> reply) {
            reply.add(new AuthenticationSASL(List.of(Scram.SCRAM_SHA_256_NAME)));
            phase = Phase.AUTH_SASL_INITIAL;
            send(this::resume, reply.toArray(new PgMessage[0]));
        }

        /** False if the client gave up (Terminate); throws unless the frame is a 'p' message. */
        private boolean expectPasswordMessage(PgFrame f) {
            if (f.type() == FrontendMessage.TERMINATE) {
                completeStage();
                return false;
            }
            if (f.type() != FrontendMessage.PASSWORD) {
                throw PgProtocolException.violation("expected SASL response, got message type " + (f.type() & 0xFF)
                        + " (" + f.describeType() + ")");
            }
            return true;
        }

        private void handleSaslInitial(PgFrame f) {
            if (!expectPasswordMessage(f)) {
                return;
            }
            SASLInitialResponse r = (SASLInitialResponse) FrontendMessage.parse(f, PasswordKind.SASL_INITIAL);
            if (!r.mechanism().equals(Scram.SCRAM_SHA_256_NAME)) {
                throw PgProtocolException.violation("client selected an invalid SASL authentication mechanism");
            }
            byte[] serverFirst = scram.handleClientFirst(r.data() == null ? new byte[0] : r.data());
            phase = Phase.AUTH_SASL_CONTINUE;
            send(this::resume, new AuthenticationSASLContinue(serverFirst));
        }

        private void handleSaslContinue(PgFrame f) {
            if (!expectPasswordMessage(f)) {
                return;
            }
            SASLResponse r = (SASLResponse) FrontendMessage.parse(f, PasswordKind.SASL_CONTINUE);
            Scram.Outcome outcome = scram.handleClientFinal(r.data());
            scram = null;
            if (!outcome.success()) {
                log.info("password authentication failed for user \"{}\" from {}", user, ctx.remote());
                throw new PgProtocolException(SqlState.INVALID_PASSWORD,
                        "password authentication failed for user \"" + user + "\"");
            }
            List<PgMessage> reply = new ArrayList<>();
            reply.add(new AuthenticationSASLFinal(outcome.serverFinalMessage()));
            finishStartup(reply);
        }

        /** Authentication done: open the session and say hello (AuthenticationOk .. ReadyForQuery). */
        private void finishStartup(List<PgMessage> reply) {
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
            String appName = params.getOrDefault("application_name", "");
            SessionInfo info = new SessionInfo(user, startup.database(), appName, ctx.remote(), params,
                    key.processId());
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
            reply.add(ready());
            phase = Phase.READY;
            cancelTimer(AUTH_TIMER);
            log.debug("session opened: {}", info);
            send(this::resume, reply.toArray(new PgMessage[0]));
        }

        // ------------------------------------------------------------ queries

        private void handleReady(FrontendMessage m) {
            if (m instanceof Sync) {
                // end of an extended-protocol batch: the implicit transaction ends and its
                // portals with it (inside BEGIN ... COMMIT they live on)
                ignoreTillSync = false;
                if (!inTransaction) {
                    portals.clear();
                }
                send(this::resume, ready());
                return;
            }
            if (m instanceof Terminate) {
                completeStage();
                return;
            }
            if (ignoreTillSync) {
                resume();
                return;
            }
            if (m instanceof Query q) {
                statements.remove("");
                simpleQuery(q.sql());
            } else if (m instanceof Parse p) {
                handleParse(p);
            } else if (m instanceof Bind b) {
                handleBind(b);
            } else if (m instanceof Describe d) {
                handleDescribe(d);
            } else if (m instanceof Execute e) {
                handleExecute(e);
            } else if (m instanceof Close c) {
                if (c.kind() == Describe.STATEMENT) {
                    statements.remove(c.name());
                } else {
                    portals.remove(c.name());
                }
                send(this::resume, new CloseComplete());
            } else if (m instanceof Flush) {
                resume();
            } else if (m instanceof CopyData || m instanceof CopyDone || m instanceof CopyFail) {
                // As PostgresMain: accept but ignore, the client may still be sending after a
                // failed COPY.
                resume();
            } else {
                throw PgProtocolException.violation("unexpected message " + m + " in an idle session");
            }
        }

        /** Runs one statement through the session; {@code then} gets the result on the stage. */
        private void runStatement(String sql, Consumer<QueryResult> then) {
            int token = ++requestToken;
            pendingThen = then;
            CompletionStage<QueryResult> cs;
            try {
                cs = session.query(sql);
                if (cs == null) {
                    cs = CompletableFuture.failedFuture(new IllegalStateException("PgSession.query returned null"));
                }
            } catch (RuntimeException e) {
                cs = CompletableFuture.failedFuture(e);
            }
            cs.whenComplete((r, ex) -> completionCallback.invoke(new Completion(token, r, ex)));
        }

        private void onCompletion(Completion c) {
            if (c.token() != requestToken || pendingThen == null) {
                return; // answered already (cancelled) or connection closing
            }
            Consumer<QueryResult> then = pendingThen;
            pendingThen = null;
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

        private QueryResult.Error errorResult(Throwable t) {
            Throwable e = t;
            while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
                e = e.getCause();
            }
            if (e instanceof PgProtocolException p) {
                return new QueryResult.Error(p.sqlState(), p.getMessage());
            }
            log.warn("statement failed on connection {}", key == null ? "?" : key.processId(), e);
            String msg = e.getMessage() != null ? e.getMessage() : e.getClass().getName();
            return new QueryResult.Error(SqlState.INTERNAL_ERROR, msg);
        }

        /**
         * ReadyForQuery with the transaction status. pageserver has no transactions; it only
         * follows BEGIN/COMMIT/ROLLBACK command tags so that clients that wrap statements in a
         * transaction (pgjdbc with autocommit off) see 'T' and keep their portals across Syncs.
         */
        private ReadyForQuery ready() {
            return inTransaction ? READY_IN_TRANSACTION : READY_IDLE;
        }

        private CommandComplete commandComplete(String tag) {
            String t = tag.trim().toUpperCase(java.util.Locale.ROOT);
            if (t.equals("BEGIN") || t.equals("START TRANSACTION")) {
                inTransaction = true;
            } else if (t.equals("COMMIT") || t.equals("ROLLBACK") || t.equals("END") || t.equals("ABORT")) {
                inTransaction = false;
                portals.keySet().removeIf(k -> !k.isEmpty());
            }
            return new CommandComplete(tag);
        }

        private ErrorResponse errorResponse(QueryResult.Error e) {
            return ErrorResponse.error(e.sqlState(), e.message()).withDetail(e.detail());
        }

        private void onCancel() {
            if (phase == Phase.CLOSING) {
                return;
            }
            if (pendingThen != null) {
                Consumer<QueryResult> then = pendingThen;
                pendingThen = null;
                requestToken++;
                sessionCancel();
                then.accept(new QueryResult.Error(SqlState.QUERY_CANCELED, "canceling statement due to user request"));
            } else if (phase == Phase.COPY && copy != null) {
                sessionCancel();
                CopyState c = copy;
                closeCopyPorts(new CopyFailedException("canceled"));
                endCopy(c);
                c.onError.accept(ErrorResponse.error(SqlState.QUERY_CANCELED, "canceling statement due to user request"));
            }
        }

        private void sessionCancel() {
            try {
                session.cancel();
            } catch (RuntimeException e) {
                log.warn("PgSession.cancel failed", e);
            }
        }

        private void onTerminate() {
            fatal(SqlState.ADMIN_SHUTDOWN, "terminating connection due to administrator command");
        }

        // ------------------------------------------------------------ simple query protocol

        private void simpleQuery(String sql) {
            List<String> stmts = QuerySplitter.split(sql);
            if (stmts.isEmpty()) {
                send(this::resume, new EmptyQueryResponse(), ready());
                return;
            }
            simplePending = new ArrayDeque<>(stmts);
            nextSimpleStatement();
        }

        private void nextSimpleStatement() {
            String s = simplePending.poll();
            if (s == null) {
                send(this::resume, ready());
                return;
            }
            runStatement(s, this::onSimpleResult);
        }

        private void simpleError(ErrorResponse e) {
            simplePending.clear();
            send(this::resume, e, ready());
        }

        private void onSimpleResult(QueryResult r) {
            if (r instanceof QueryResult.Rows rows) {
                sendRows(rows, null, 0, rows.rows().size(), true,
                        () -> send(this::nextSimpleStatement, new CommandComplete(rows.effectiveTag())));
            } else if (r instanceof QueryResult.Command c) {
                send(this::nextSimpleStatement, commandComplete(c.commandTag()));
            } else if (r instanceof QueryResult.Error e) {
                simpleError(errorResponse(e));
            } else if (r instanceof QueryResult.CopyBoth cb) {
                startCopy(cb, this::nextSimpleStatement, this::simpleError);
            }
        }

        /**
         * Sends RowDescription (if asked) and rows [from, to). Text rows are encoded lazily chunk
         * by chunk as the client reads; binary rows are converted up front so that a bad value
         * is reported before anything is sent.
         */
        private void sendRows(QueryResult.Rows rows, Bind bind, int from, int to, boolean describe, Runnable then) {
            List<Column> cols = rows.columns();
            short[] formats = new short[cols.size()];
            boolean anyBinary = false;
            for (int i = 0; i < cols.size(); i++) {
                formats[i] = bind == null ? 0 : bind.resultFormat(i);
                anyBinary |= formats[i] == 1;
            }
            PgWriter head = new PgWriter();
            if (describe) {
                rowDescription(cols, formats).write(head);
            }
            Iterator<ByteString> chunks;
            if (anyBinary) {
                List<DataRow> encoded = new ArrayList<>(to - from);
                for (int r = from; r < to; r++) {
                    List<String> row = rows.rows().get(r);
                    List<byte[]> values = new ArrayList<>(row.size());
                    for (int i = 0; i < row.size(); i++) {
                        String v = row.get(i);
                        values.add(v == null ? null : formats[i] == 1 ? PgType.textToBinary(cols.get(i).typeOid(), v)
                                : v.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    }
                    encoded.add(new DataRow(values));
                }
                chunks = new RowChunks(head, to - from, i -> encoded.get(i));
            } else {
                chunks = new RowChunks(head, to - from, i -> DataRow.ofText(rows.rows().get(from + i)));
            }
            emitMultiple(out, chunks, () -> guarded(then));
        }

        private RowDescription rowDescription(List<Column> cols, short[] formats) {
            List<RowDescription.Field> fields = new ArrayList<>(cols.size());
            for (int i = 0; i < cols.size(); i++) {
                Column c = cols.get(i);
                fields.add(RowDescription.Field.of(c.name(), c.typeOid(), c.typeLen())
                        .withFormat(formats == null ? 0 : formats[i]));
            }
            return new RowDescription(fields);
        }

        // ------------------------------------------------------------ extended query protocol

        private void extendedError(ErrorResponse e) {
            ignoreTillSync = true;
            send(this::resume, e);
        }

        private void extendedError(String sqlState, String message) {
            extendedError(ErrorResponse.error(sqlState, message));
        }

        private void handleParse(Parse p) {
            if (!p.statement().isEmpty() && statements.containsKey(p.statement())) {
                extendedError(SqlState.DUPLICATE_PREPARED_STATEMENT,
                        "prepared statement \"" + p.statement() + "\" already exists");
                return;
            }
            List<String> stmts = QuerySplitter.split(p.query());
            if (stmts.size() > 1) {
                extendedError(SqlState.SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement");
                return;
            }
            statements.put(p.statement(), new Prepared(stmts.isEmpty() ? "" : stmts.get(0), p.parameterTypes()));
            send(this::resume, new ParseComplete());
        }

        private Prepared statement(String name) {
            Prepared s = statements.get(name);
            if (s == null) {
                extendedError(SqlState.INVALID_SQL_STATEMENT_NAME, name.isEmpty()
                        ? "unnamed prepared statement does not exist"
                        : "prepared statement \"" + name + "\" does not exist");
            }
            return s;
        }

        private Portal portal(String name) {
            Portal p = portals.get(name);
            if (p == null) {
                extendedError(SqlState.INVALID_CURSOR_NAME, "portal \"" + name + "\" does not exist");
            }
            return p;
        }

        private void handleBind(Bind b) {
            Prepared s = statement(b.statement());
            if (s == null) {
                return;
            }
            if (!b.parameters().isEmpty()) {
                extendedError(SqlState.FEATURE_NOT_SUPPORTED, "bind parameters are not supported");
                return;
            }
            if (!b.portal().isEmpty() && portals.containsKey(b.portal())) {
                extendedError(SqlState.DUPLICATE_CURSOR, "cursor \"" + b.portal() + "\" already exists");
                return;
            }
            Portal p = new Portal(s, b);
            p.result = s.described; // the result a Describe of the statement already computed
            s.described = null;
            portals.put(b.portal(), p);
            send(this::resume, new BindComplete());
        }

        private void handleDescribe(Describe d) {
            if (d.kind() == Describe.STATEMENT) {
                Prepared s = statement(d.name());
                if (s == null) {
                    return;
                }
                ParameterDescription params = new ParameterDescription(s.parameterTypes);
                if (s.empty()) {
                    send(this::resume, params, new NoData());
                    return;
                }
                Consumer<QueryResult> then = r -> {
                    if (r instanceof QueryResult.Error e) {
                        extendedError(errorResponse(e));
                        return;
                    }
                    s.described = r;
                    send(this::resume, params, r instanceof QueryResult.Rows rows
                            ? rowDescription(rows.columns(), null) : new NoData());
                };
                if (s.described != null) {
                    then.accept(s.described);
                } else {
                    runStatement(s.sql, then);
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
                            send(this::resume, rowDescription(rows.columns(), formats));
                        }
                    } else {
                        send(this::resume, new NoData());
                    }
                });
            }
        }

        /** The portal's result formats checked against the columns; null after reporting an error. */
        private short[] resultFormats(Portal p, QueryResult.Rows rows) {
            short[] rf = p.bind.resultFormats();
            int n = rows.columns().size();
            if (rf.length > 1 && rf.length != n) {
                extendedError(SqlState.PROTOCOL_VIOLATION,
                        "bind message has " + rf.length + " result formats but query has " + n + " columns");
                return null;
            }
            short[] formats = new short[n];
            for (int i = 0; i < n; i++) {
                formats[i] = p.bind.resultFormat(i);
                int oid = rows.columns().get(i).typeOid();
                if (formats[i] == 1 && !PgType.supportsBinary(oid)) {
                    extendedError(SqlState.FEATURE_NOT_SUPPORTED,
                            "binary output format is not supported for type OID " + oid);
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
            runStatement(p.statement.sql, r -> {
                if (r instanceof QueryResult.Error e) {
                    extendedError(errorResponse(e));
                    return;
                }
                p.result = r;
                then.accept(r);
            });
        }

        private void handleExecute(Execute e) {
            Portal p = portal(e.portal());
            if (p == null) {
                return;
            }
            if (p.statement.empty()) {
                send(this::resume, new EmptyQueryResponse());
                return;
            }
            withPortalResult(p, r -> {
                if (r instanceof QueryResult.Rows rows) {
                    if (resultFormats(p, rows) == null) {
                        return;
                    }
                    int size = rows.rows().size();
                    int from = p.position;
                    int to = e.maxRows() > 0 ? (int) Math.min(size, (long) from + e.maxRows()) : size;
                    p.position = to;
                    sendRows(rows, p.bind, from, to, false, () -> {
                        if (to < size) {
                            send(this::resume, new PortalSuspended());
                        } else {
                            send(this::resume, new CommandComplete(rows.effectiveTag()));
                        }
                    });
                } else if (r instanceof QueryResult.Command c) {
                    send(this::resume, commandComplete(c.commandTag()));
                } else if (r instanceof QueryResult.Error err) {
                    extendedError(errorResponse(err));
                } else if (r instanceof QueryResult.CopyBoth cb) {
                    if (p.copyStarted) {
                        extendedError(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "portal \"" + e.portal()
                                + "\" cannot be run again");
                        return;
                    }
                    p.copyStarted = true;
                    startCopy(cb, this::resume, this::extendedError);
                }
            });
        }

        // ------------------------------------------------------------ copy-both

        private void startCopy(QueryResult.CopyBoth cb, Runnable onSuccess, Consumer<ErrorResponse> onError) {
            CopyState c = new CopyState();
            c.tag = cb.commandTag();
            c.onSuccess = onSuccess;
            c.onError = onError;
            c.toFlow = new SubSourceOutlet<>("PgServer.copyIn");
            c.fromFlow = new SubSinkInlet<>("PgServer.copyOut");
            c.toFlow.setHandler(new AbstractOutHandler() {
                @Override
                public void onPull() {
                    if (copy == c && !c.clientDone) {
                        resume();
                    }
                }

                @Override
                public void onDownstreamFinish(Throwable cause) {
                    // The flow wants no more input; keep reading (and dropping) the client's
                    // CopyData so that the client is not blocked.
                    c.toFlowClosed = true;
                    if (copy == c && !c.clientDone) {
                        resume();
                    }
                }
            });
            c.fromFlow.setHandler(new AbstractInHandler() {
                @Override
                public void onPush() {
                    ByteString payload = c.fromFlow.grab();
                    ByteString frame = ByteString.fromArrayUnsafe(CopyData.header(payload.size())).concat(payload);
                    emit(out, frame, () -> {
                        if (copy == c && !c.fromFlow.isClosed()) {
                            c.fromFlow.pull();
                        }
                    });
                }

                @Override
                public void onUpstreamFinish() {
                    guarded(() -> onCopyFlowFinished(c));
                }

                @Override
                public void onUpstreamFailure(Throwable ex) {
                    guarded(() -> onCopyFlowFailed(c, ex));
                }
            });
            copy = c;
            phase = Phase.COPY;
            send(() -> {
                if (copy != c) {
                    return;
                }
                try {
                    Source.fromGraph(c.toFlow.source()).via(cb.flow()).runWith(c.fromFlow.sink(), subFusingMaterializer());
                } catch (RuntimeException ex) {
                    onCopyFlowFailed(c, ex);
                    return;
                }
                c.fromFlow.pull();
            }, CopyBothResponse.BINARY_STREAM);
        }

        private void handleCopy(FrontendMessage m) {
            CopyState c = copy;
            if (m instanceof CopyData d) {
                if (c.toFlowClosed || c.clientDone) {
                    resume(); // dropped
                } else if (c.toFlow.isAvailable()) {
                    c.toFlow.push(ByteString.fromArrayUnsafe(d.data()));
                    // the next frame is read when the flow pulls again
                } else {
                    throw new IllegalStateException("CopyData read without demand from the copy flow");
                }
            } else if (m instanceof CopyDone) {
                c.clientDone = true;
                if (!c.toFlowClosed) {
                    c.toFlowClosed = true;
                    c.toFlow.complete();
                }
                if (c.serverDone) {
                    finishCopy(c);
                }
            } else if (m instanceof CopyFail f) {
                c.clientDone = true;
                c.clientFailMessage = f.message();
                if (!c.toFlowClosed) {
                    c.toFlowClosed = true;
                    c.toFlow.fail(new CopyFailedException(f.message()));
                }
                if (c.serverDone) {
                    finishCopy(c);
                }
            } else if (m instanceof Flush || m instanceof Sync) {
                resume(); // ignored during copy, as PostgreSQL does
            } else if (m instanceof Terminate) {
                completeStage();
            } else {
                throw PgProtocolException.violation("unexpected message type " + m + " during COPY");
            }
        }

        private void onCopyFlowFinished(CopyState c) {
            if (copy != c) {
                return;
            }
            c.serverDone = true;
            if (!c.toFlowClosed) {
                c.toFlowClosed = true;
                c.toFlow.complete();
            }
            send(() -> {
                if (copy != c) {
                    return;
                }
                if (c.clientDone) {
                    finishCopy(c);
                } else {
                    resume(); // read (and drop) client CopyData until its CopyDone
                }
            }, new CopyDone());
        }

        private void onCopyFlowFailed(CopyState c, Throwable ex) {
            if (copy != c) {
                return;
            }
            closeCopyPorts(ex);
            endCopy(c);
            if (c.clientFailMessage != null) {
                c.onError.accept(ErrorResponse.error(SqlState.QUERY_CANCELED,
                        "COPY from stdin failed: " + c.clientFailMessage));
            } else {
                c.onError.accept(errorResponse(errorResult(ex)));
            }
        }

        private void finishCopy(CopyState c) {
            endCopy(c);
            if (c.clientFailMessage != null) {
                c.onError.accept(ErrorResponse.error(SqlState.QUERY_CANCELED,
                        "COPY from stdin failed: " + c.clientFailMessage));
            } else {
                send(c.onSuccess, new CommandComplete(c.tag));
            }
        }

        private void endCopy(CopyState c) {
            if (copy == c) {
                copy = null;
                if (phase == Phase.COPY) {
                    phase = Phase.READY;
                }
            }
        }

        private void closeCopyPorts(Throwable cause) {
            CopyState c = copy;
            if (c == null) {
                return;
            }
            if (!c.toFlowClosed && !c.toFlow.isClosed()) {
                c.toFlowClosed = true;
                if (cause == null) {
                    c.toFlow.complete();
                } else {
                    c.toFlow.fail(cause);
                }
            }
            if (!c.fromFlow.isClosed()) {
                c.fromFlow.cancel();
            }
        }
    }

    /** DataRows (after an optional header) packed into chunks of about ROW_CHUNK_BYTES. */
    private static final class RowChunks implements Iterator<ByteString> {
        interface RowSource {
            DataRow row(int i);
        }

        private final int count;
        private final RowSource source;
        private PgWriter head;
        private int next;

        RowChunks(PgWriter head, int count, RowSource source) {
            this.head = head.size() > 0 ? head : null;
            this.count = count;
            this.source = source;
        }

        @Override
        public boolean hasNext() {
            return head != null || next < count;
        }

        @Override
        public ByteString next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            PgWriter w = head != null ? head : new PgWriter(Math.min(ROW_CHUNK_BYTES + 1024, 4096));
            head = null;
            while (next < count && w.size() < ROW_CHUNK_BYTES) {
                source.row(next++).write(w);
            }
            return ByteString.fromArrayUnsafe(w.toByteArray());
        }
    }
}
