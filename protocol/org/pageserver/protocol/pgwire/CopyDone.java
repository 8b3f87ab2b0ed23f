package org.pageserver.protocol.pgwire;

/** CopyDone, both directions: {@code Byte1 'c' | Int32 4}. */
public record CopyDone() implements FrontendMessage, BackendMessage {

    public static final byte TYPE = 'c';

    public static CopyDone parse(byte[] body) {
        new PgReader(body, "CopyDone").end();
        return new CopyDone();
    }

    @Override
    public void write(PgWriter out) {
        out.beginMessage(TYPE).endMessage();
    }
}
