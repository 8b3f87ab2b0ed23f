package org.pageserver.streams.pgwire;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.SqlState;

/** What a {@link PgSession} answers to one SQL statement. */
public sealed interface QueryResult {

    /** What a {@link Sequence} is made of. */
    sealed interface Part extends QueryResult {
    }

    /**
     * A result set: RowDescription, one DataRow per row, CommandComplete. Values are text; a
     * null element is SQL NULL. {@code commandTag} null means "SELECT n".
     */
    record Rows(List<Column> columns, List<List<String>> rows, String commandTag) implements Part {
        public Rows {
            columns = List.copyOf(columns);
            List<List<String>> copy = new ArrayList<>(rows.size());
            for (List<String> r : rows) {
                if (r.size() != columns.size()) {
                    throw new IllegalArgumentException("row has " + r.size() + " values but there are "
                            + columns.size() + " columns");
                }
                copy.add(Collections.unmodifiableList(new ArrayList<>(r)));
            }
            rows = Collections.unmodifiableList(copy);
        }

        public Rows(List<Column> columns, List<List<String>> rows) {
            this(columns, rows, null);
        }

        public String effectiveTag() {
            return commandTag != null ? commandTag : "SELECT " + rows.size();
        }
    }

    /** A statement without a result set: just CommandComplete with this tag ("SET", "CHECKPOINT"). */
    record Command(String commandTag) implements QueryResult {
    }

    /** An ERROR (the connection stays usable): ErrorResponse with SQLSTATE, message, optional detail. */
    record Error(String sqlState, String message, String detail) implements QueryResult {
        public Error {
            if (!SqlState.isValid(sqlState)) {
                throw new IllegalArgumentException("invalid SQLSTATE \"" + sqlState + "\"");
            }
        }

        public Error(String sqlState, String message) {
            this(sqlState, message, null);
        }
    }

    /**
     * Switch the connection into copy-both mode (CopyBothResponse) and run {@code flow}: the
     * payload of every CopyData from the client goes into the flow in order, every element the
     * flow emits goes back as one CopyData. The client's CopyDone completes the flow's input.
     * When the flow completes the server sends CopyDone; once both sides have sent CopyDone, the
     * server sends CommandComplete({@code commandTag}) and goes back to reading queries. A flow
     * failure ends copy mode with an ErrorResponse (SQLSTATE from a PgProtocolException, else
     * XX000). The flow is materialized once per result.
     *
     * <p>{@code maxCopyData} is the largest CopyData payload the flow takes (capped by the
     * server's maximum message size): a client CopyData declaring more is a protocol violation
     * (FATAL 08P01, the connection closes) refused from its header, before it is read.
     */
    record CopyBoth(Flow<ByteString, ByteString, ?> flow, String commandTag, int maxCopyData) implements QueryResult {
        public CopyBoth {
            if (flow == null) {
                throw new IllegalArgumentException("flow is null");
            }
            if (commandTag == null) {
                commandTag = "COPY 0";
            }
            if (maxCopyData < 0) {
                throw new IllegalArgumentException("maxCopyData must be >= 0: " + maxCopyData);
            }
        }

        /** CopyData up to the server's maximum message size. */
        public CopyBoth(Flow<ByteString, ByteString, ?> flow, String commandTag) {
            this(flow, commandTag, Integer.MAX_VALUE);
        }

        public CopyBoth(Flow<ByteString, ByteString, ?> flow) {
            this(flow, null);
        }
    }

    /**
     * COPY TO STDOUT: CopyOutResponse (overall format 0 and no columns: an opaque byte stream, as
     * PostgreSQL 15's BASE_BACKUP announces its archives), every element of {@code data} as
     * CopyData (cut into pieces of at most 64 kB and of the server's maximum message size), then
     * CopyDone and CommandComplete({@code commandTag}). The next element is asked for only once
     * the previous one has been written, so a client that reads slowly slows the source down
     * instead of filling the server's memory. A failure of the source ends the copy with an
     * ErrorResponse (SQLSTATE from a PgProtocolException, else XX000), as a CancelRequest does
     * (57014); the connection stays usable. The source is materialized once per result.
     */
    record CopyOut(Source<ByteString, ?> data, String commandTag) implements Part {
        public CopyOut {
            if (data == null) {
                throw new IllegalArgumentException("data is null");
            }
            if (commandTag == null) {
                commandTag = "COPY 0";
            }
        }
    }

    /**
     * Several results answering one statement, in order, then CommandComplete({@code commandTag}):
     * how PostgreSQL 15's BASE_BACKUP answers (its start position and tablespaces as result sets,
     * the archives as one COPY OUT, its end position as a result set). A {@link Rows} part goes
     * out as on its own (RowDescription, DataRows, CommandComplete with its tag: PostgreSQL's
     * BASE_BACKUP says "SELECT"); a {@link CopyOut} part as CopyOutResponse, CopyData...,
     * CopyDone, without a CommandComplete of its own (its tag is not sent). A failing part ends
     * the statement with its ErrorResponse. In the extended protocol a Sequence is described as
     * NoData and its rows are sent in text.
     */
    record Sequence(List<Part> parts, String commandTag) implements QueryResult {
        public Sequence {
            parts = List.copyOf(parts);
            if (commandTag == null) {
                throw new IllegalArgumentException("commandTag is null");
            }
        }
    }
}
