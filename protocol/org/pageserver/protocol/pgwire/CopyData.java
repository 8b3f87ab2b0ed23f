package org.pageserver.protocol.pgwire;

import java.util.Arrays;

/**
 * CopyData, sent in both directions during COPY and replication/pagestream sub-protocols:
 * <pre>
 *   Byte1 'd' | Int32 len | Byte_n data (len - 4 bytes, any content)
 * </pre>
 */
public record CopyData(byte[] data) implements FrontendMessage, BackendMessage {

    public static final byte TYPE = 'd';

    public CopyData {
        if (data == null) {
            throw new IllegalArgumentException("CopyData payload is null");
        }
    }

    /** The body is the payload; the array is taken as is (frame bodies are not shared). */
    public static CopyData parse(byte[] body) {
        return new CopyData(body);
    }

    @Override
    public void write(PgWriter out) {
        out.beginMessage(TYPE).writeBytes(data).endMessage();
    }

    /** Writes the 5-byte header of a CopyData whose payload has {@code payloadLength} bytes. */
    public static byte[] header(int payloadLength) {
        if (payloadLength < 0 || payloadLength > Integer.MAX_VALUE - 4) {
            throw new IllegalArgumentException("bad CopyData payload length " + payloadLength);
        }
        int len = payloadLength + 4;
        return new byte[] {TYPE, (byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len};
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CopyData c && Arrays.equals(c.data, data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "CopyData[" + data.length + " bytes]";
    }
}
