package org.pageserver.streams.pgwire;

import java.util.Iterator;
import java.util.function.Consumer;

import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.CommandComplete;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;
import org.pageserver.protocol.pgwire.PgMessage;

/**
 * What the protocol driver of a connection ({@link PgServerStage}) offers the handlers of its
 * sub-protocols ({@link SimpleQuery}, {@link ExtendedQuery}, {@link CopyBothMode},
 * {@link CopyOutMode}), as Neon's postgres_backend offers its page-service handler: writing
 * with backpressure, reading the next client message, running a statement through the session,
 * entering and leaving copy mode. All calls, and all the callbacks they take, run on the
 * connection's stage.
 *
 * <p>Flow control is the driver's: it reads the next client message only when a handler calls
 * {@link #readNextMessage()}, so a handler that is still answering (rows, copy data) keeps the
 * client's further messages unread.
 */
interface Backend {

    /** Writes the messages; {@code andThen} runs once they have been handed to the transport. */
    void send(Runnable andThen, PgMessage... messages);

    /** Writes bytes that are whole encoded messages; {@code andThen} as for {@link #send}. */
    void sendBytes(ByteString bytes, Runnable andThen);

    /** Writes the chunks one by one as the transport takes them; then {@code andThen}. */
    void sendAll(Iterator<ByteString> chunks, Runnable andThen);

    /** The handler is done with the current client message: act on the next one when it comes. */
    void readNextMessage();

    /** Runs one statement through the session; {@code then} gets its result (or its error as a result). */
    void runStatement(String sql, Consumer<QueryResult> then);

    /** The client said Terminate: close without a word. */
    void closeConnection();

    /** CommandComplete with this tag; BEGIN, COMMIT and ROLLBACK tags move the transaction status. */
    CommandComplete commandComplete(String tag);

    /** ReadyForQuery with the current transaction status. */
    ReadyForQuery readyForQuery();

    /** A failure of a statement or of a copy stream as an ERROR (SQLSTATE of a PgProtocolException, else XX000). */
    QueryResult.Error errorResult(Throwable failure);

    /** Largest message body the server accepts from a client, and so sends in one CopyData. */
    int maxMessageSize();

    /** From now on client messages, cancel requests and the end of the connection go to {@code copy}. */
    void enterCopy(CopyMode copy);

    /** {@code copy} is over (no-op if it is not the current one): back to queries. */
    void leaveCopy(CopyMode copy);

    /** A port through which the stage feeds a sub-stream (the copy flow's input). */
    <T> GraphStageLogic.SubSourceOutlet<T> subSource(String name);

    /** A port through which the stage reads a sub-stream (the copy flow's or the copy-out source's output). */
    <T> GraphStageLogic.SubSinkInlet<T> subSink(String name);

    /** Runs sub-streams inside the connection's stage actor. */
    Materializer subMaterializer();

    /**
     * Runs handler code called back from a sub-stream: a protocol error there ends the
     * connection with a FATAL ErrorResponse, as one while handling a client message does.
     */
    void guarded(Runnable code);

    static ErrorResponse errorResponse(QueryResult.Error e) {
        return ErrorResponse.error(e.sqlState(), e.message()).withDetail(e.detail());
    }
}
