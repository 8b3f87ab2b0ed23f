package org.pageserver.protocol.pgwire;

/** A protocol message in either direction that can write itself, framed, in big-endian order. */
public interface PgMessage {

    /** Appends the complete message (type byte, length, body) to {@code out}. */
    void write(PgWriter out);

    /** The complete message as bytes. */
    default byte[] toBytes() {
        PgWriter w = new PgWriter();
        write(w);
        return w.toByteArray();
    }
}
