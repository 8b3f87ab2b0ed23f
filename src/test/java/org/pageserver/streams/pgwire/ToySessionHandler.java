package org.pageserver.streams.pgwire;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;

/** A made-up session for tests only: a few canned statements exercising every result kind. */
final class ToySessionHandler implements PgSessionHandler {

    final List<String> queries = new CopyOnWriteArrayList<>();
    final List<SessionInfo> opened = new CopyOnWriteArrayList<>();
    final AtomicInteger closed = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();
    /** Elements produced by the "infinite" copy flow so far. */
    final AtomicLong produced = new AtomicLong();
    /** Bytes produced by the "copy out" sources so far. */
    final AtomicLong copyOutProduced = new AtomicLong();

    @Override
    public PgSession open(SessionInfo info) {
        if ("nodb".equals(info.database())) {
            throw new PgProtocolException(SqlState.INVALID_CATALOG_NAME, "database \"nodb\" does not exist");
        }
        if ("crash".equals(info.database())) {
            throw new IllegalStateException("open crashed");
        }
        opened.add(info);
        return new PgSession() {
            @Override
            public CompletionStage<QueryResult> query(String sql) {
                queries.add(sql);
                return answer(sql, info);
            }

            @Override
            public void cancel() {
                cancelled.incrementAndGet();
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        };
    }

    private CompletionStage<QueryResult> answer(String sql, SessionInfo info) {
        String q = sql.trim().toLowerCase();
        if (q.equals("select 1")) {
            return done(new QueryResult.Rows(List.of(Column.int4("?column?")), List.of(List.of("1"))));
        }
        if (q.equals("status")) {
            return done(new QueryResult.Rows(List.of(Column.text("status")), List.of(List.of("ok"))));
        }
        if (q.equals("types")) {
            return done(new QueryResult.Rows(
                    List.of(Column.int4("i4"), Column.int8("i8"), Column.text("t"), Column.bool("b"),
                            Column.bytea("ba"), Column.pgLsn("lsn"), Column.text("n")),
                    List.of(Arrays.asList("-7", "9000000000", "héllo", "t", "\\x00ff", "16/B374D848", null))));
        }
        if (q.equals("numeric")) {
            return done(new QueryResult.Rows(List.of(new Column("n", org.pageserver.protocol.pgwire.PgType.NUMERIC)),
                    List.of(List.of("1.5"))));
        }
        if (q.equals("whoami")) {
            return done(new QueryResult.Rows(List.of(Column.text("user"), Column.text("db"), Column.text("app")),
                    List.of(List.of(info.user(), info.database(), info.applicationName()))));
        }
        if (q.startsWith("many ")) {
            int n = Integer.parseInt(q.substring(5).trim());
            List<List<String>> rows = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                rows.add(List.of(Integer.toString(i), "row " + i));
            }
            return done(new QueryResult.Rows(List.of(Column.int8("i"), Column.text("label")), rows));
        }
        if (q.startsWith("set") || q.equals("begin") || q.equals("commit") || q.equals("rollback")) {
            return done(new QueryResult.Command(q.startsWith("set") ? "SET" : q.toUpperCase()));
        }
        if (q.equals("fail")) {
            return done(new QueryResult.Error(SqlState.UNDEFINED_OBJECT, "no such thing", "detail here"));
        }
        if (q.equals("throw")) {
            throw new RuntimeException("kaboom");
        }
        if (q.equals("failed future")) {
            return CompletableFuture.failedFuture(new RuntimeException("async kaboom"));
        }
        if (q.equals("sqlstate future")) {
            return CompletableFuture.failedFuture(
                    new PgProtocolException(SqlState.INVALID_PARAMETER_VALUE, "bad parameter"));
        }
        if (q.equals("null")) {
            return null;
        }
        if (q.equals("slow")) {
            return CompletableFuture.supplyAsync(() -> new QueryResult.Command("SLOW"),
                    CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS));
        }
        if (q.equals("hang")) {
            return new CompletableFuture<>();
        }
        if (q.equals("echo")) {
            return done(new QueryResult.CopyBoth(Flow.create(), "ECHO"));
        }
        if (q.equals("echo16")) {
            return done(new QueryResult.CopyBoth(Flow.create(), "ECHO", 16));
        }
        if (q.equals("take2")) {
            return done(new QueryResult.CopyBoth(Flow.<ByteString>create().take(2), "TAKE2"));
        }
        if (q.equals("failing flow")) {
            return done(new QueryResult.CopyBoth(Flow.<ByteString>create().map(b -> {
                if (b.utf8String().equals("boom")) {
                    throw new IllegalStateException("flow exploded");
                }
                return b;
            })));
        }
        if (q.equals("infinite")) {
            ByteString chunk = ByteString.fromArrayUnsafe(new byte[8192]);
            return done(new QueryResult.CopyBoth(Flow.fromSinkAndSource(Sink.ignore(),
                    Source.repeat(chunk).map(c -> {
                        produced.incrementAndGet();
                        return c;
                    }))));
        }
        if (q.equals("delayed echo")) {
            return done(new QueryResult.CopyBoth(Flow.<ByteString>create().delay(Duration.ofMillis(50),
                    org.apache.pekko.stream.DelayOverflowStrategy.backpressure())));
        }
        if (q.startsWith("copy out ")) {
            return done(copyOut(q.substring("copy out ".length()).trim()));
        }
        if (q.equals("backup")) {
            // the shape of PostgreSQL 15's BASE_BACKUP answer
            List<Column> pos = List.of(Column.text("recptr"), Column.int8("tli"));
            return done(new QueryResult.Sequence(List.of(
                    new QueryResult.Rows(pos, List.of(List.of("0/2000028", "1")), "SELECT"),
                    new QueryResult.CopyOut(Source.from(List.of(ByteString.fromString("tar "),
                            ByteString.fromString("bytes\n"))), null),
                    new QueryResult.Rows(pos, List.of(List.of("0/2000100", "1")), "SELECT")), "BASE_BACKUP"));
        }
        return done(new QueryResult.Error(SqlState.SYNTAX_ERROR, "toy handler does not know \"" + sql + "\""));
    }

    /**
     * {@code copy out <n> <size>}: n elements of size bytes, byte j of element i being
     * (i + j) % 251; {@code copy out lines <n>}: n text lines; {@code copy out forever};
     * {@code copy out fail} and {@code copy out fail 22023}: two elements, then the source
     * fails (with that SQLSTATE).
     */
    private QueryResult copyOut(String what) {
        String[] w = what.split(" ");
        if (w[0].equals("lines")) {
            int n = Integer.parseInt(w[1]);
            return new QueryResult.CopyOut(Source.range(1, n).map(i -> ByteString.fromString("line " + i + "\n")),
                    "COPY " + n);
        }
        if (w[0].equals("forever")) {
            return new QueryResult.CopyOut(counted(Source.repeat(ByteString.fromArrayUnsafe(new byte[8192]))), null);
        }
        if (w[0].equals("fail")) {
            RuntimeException failure = w.length > 1 ? new PgProtocolException(w[1], "source failed with " + w[1])
                    : new IllegalStateException("source exploded");
            // fails when the third element is asked for, after the first two were written
            return new QueryResult.CopyOut(Source.from(List.of("a", "b", "c")).map(e -> {
                if (e.equals("c")) {
                    throw failure;
                }
                return ByteString.fromString(e);
            }), "COPY 2");
        }
        int n = Integer.parseInt(w[0]);
        int size = Integer.parseInt(w[1]);
        return new QueryResult.CopyOut(counted(Source.range(0, n - 1).map(i -> element(i, size))), "COPY " + n);
    }

    static ByteString element(int i, int size) {
        byte[] b = new byte[size];
        for (int j = 0; j < size; j++) {
            b[j] = (byte) ((i + j) % 251);
        }
        return ByteString.fromArrayUnsafe(b);
    }

    private Source<ByteString, ?> counted(Source<ByteString, ?> s) {
        return s.map(b -> {
            copyOutProduced.addAndGet(b.size());
            return b;
        });
    }

    private static CompletionStage<QueryResult> done(QueryResult r) {
        return CompletableFuture.completedFuture(r);
    }

    List<String> queriesSnapshot() {
        return Collections.unmodifiableList(new ArrayList<>(queries));
    }
}
