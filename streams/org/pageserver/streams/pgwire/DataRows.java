package org.pageserver.streams.pgwire;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.DataRow;
import org.pageserver.protocol.pgwire.BackendMessage.RowDescription;
import org.pageserver.protocol.pgwire.PgType;
import org.pageserver.protocol.pgwire.PgWriter;

/** A result set on the wire: RowDescription and DataRows, encoded in chunks as the client reads. */
final class DataRows {

    /** Rows are sent in chunks of about this many bytes. */
    static final int CHUNK_BYTES = 64 * 1024;

    private DataRows() {
    }

    /**
     * RowDescription (if {@code describe}) and rows [from, to) of {@code rows}, column i in
     * format {@code formats[i]} (0 text, 1 binary; null: all text). Text rows are encoded lazily
     * chunk by chunk as the client reads; binary rows are converted up front so that a value
     * that has no binary form fails before anything is sent.
     */
    static Iterator<ByteString> chunks(QueryResult.Rows rows, short[] formats, int from, int to, boolean describe) {
        List<Column> cols = rows.columns();
        PgWriter head = new PgWriter();
        if (describe) {
            description(cols, formats).write(head);
        }
        boolean anyBinary = false;
        if (formats != null) {
            for (short f : formats) {
                anyBinary |= f == 1;
            }
        }
        if (!anyBinary) {
            return new Chunks(head, to - from, i -> DataRow.ofText(rows.rows().get(from + i)));
        }
        List<DataRow> encoded = new ArrayList<>(to - from);
        for (int r = from; r < to; r++) {
            List<String> row = rows.rows().get(r);
            List<byte[]> values = new ArrayList<>(row.size());
            for (int i = 0; i < row.size(); i++) {
                String v = row.get(i);
                values.add(v == null ? null : formats[i] == 1 ? PgType.textToBinary(cols.get(i).typeOid(), v)
                        : v.getBytes(StandardCharsets.UTF_8));
            }
            encoded.add(new DataRow(values));
        }
        return new Chunks(head, to - from, encoded::get);
    }

    /** RowDescription of the columns, column i in format {@code formats[i]} (null: all text). */
    static RowDescription description(List<Column> cols, short[] formats) {
        List<RowDescription.Field> fields = new ArrayList<>(cols.size());
        for (int i = 0; i < cols.size(); i++) {
            Column c = cols.get(i);
            fields.add(RowDescription.Field.of(c.name(), c.typeOid(), c.typeLen())
                    .withFormat(formats == null ? 0 : formats[i]));
        }
        return new RowDescription(fields);
    }

    /** DataRows (after an optional header) packed into chunks of about CHUNK_BYTES. */
    private static final class Chunks implements Iterator<ByteString> {
        interface RowSource {
            DataRow row(int i);
        }

        private final int count;
        private final RowSource source;
        private PgWriter head;
        private int next;

        Chunks(PgWriter head, int count, RowSource source) {
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
            PgWriter w = head != null ? head : new PgWriter(Math.min(CHUNK_BYTES + 1024, 4096));
            head = null;
            while (next < count && w.size() < CHUNK_BYTES) {
                source.row(next++).write(w);
            }
            return ByteString.fromArrayUnsafe(w.toByteArray());
        }
    }
}
