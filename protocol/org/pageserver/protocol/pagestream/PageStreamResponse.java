package org.pageserver.protocol.pagestream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * One response of the {@code pagestream} sub-protocol: the payload of one CopyData back to the
 * compute, in request order. Big-endian; a contract with compute nodes.
 *
 * <pre>
 *  100 exists  | u8 (0 or 1)
 *  101 nblocks | u32
 *  102 getpage | 8192 bytes of page
 *  103 error   | UTF-8 message | NUL
 *  104 dbsize  | i64 bytes
 * </pre>
 */
public sealed interface PageStreamResponse {
    int TAG_EXISTS = 100;
    int TAG_NBLOCKS = 101;
    int TAG_GETPAGE = 102;
    int TAG_ERROR = 103;
    int TAG_DBSIZE = 104;
    int BLCKSZ = 8192;

    byte[] write();

    record Exists(boolean exists) implements PageStreamResponse {
        @Override
        public byte[] write() {
            return new byte[] {(byte) TAG_EXISTS, (byte) (exists ? 1 : 0)};
        }
    }

    record Nblocks(int nblocks) implements PageStreamResponse {
        @Override
        public byte[] write() {
            return ByteBuffer.allocate(5).order(ByteOrder.BIG_ENDIAN).put((byte) TAG_NBLOCKS).putInt(nblocks).array();
        }
    }

    record Page(byte[] page) implements PageStreamResponse {
        public Page {
            if (page.length != BLCKSZ) {
                throw new IllegalArgumentException("a page is " + BLCKSZ + " bytes, got " + page.length);
            }
        }

        @Override
        public byte[] write() {
            byte[] out = new byte[1 + BLCKSZ];
            out[0] = (byte) TAG_GETPAGE;
            System.arraycopy(page, 0, out, 1, BLCKSZ);
            return out;
        }
    }

    record Error(String message) implements PageStreamResponse {
        @Override
        public byte[] write() {
            byte[] m = message.replace('\0', ' ').getBytes(StandardCharsets.UTF_8);
            byte[] out = new byte[m.length + 2];
            out[0] = (byte) TAG_ERROR;
            System.arraycopy(m, 0, out, 1, m.length);
            return out;
        }
    }

    record DbSize(long bytes) implements PageStreamResponse {
        @Override
        public byte[] write() {
            return ByteBuffer.allocate(9).order(ByteOrder.BIG_ENDIAN).put((byte) TAG_DBSIZE).putLong(bytes).array();
        }
    }

    static PageStreamResponse parse(byte[] frame) {
        if (frame.length == 0) {
            throw new IllegalArgumentException("empty pagestream response");
        }
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.BIG_ENDIAN);
        int tag = b.get() & 0xFF;
        switch (tag) {
            case TAG_EXISTS:
                expect(frame, 2);
                return new Exists(frame[1] != 0);
            case TAG_NBLOCKS:
                expect(frame, 5);
                return new Nblocks(b.getInt());
            case TAG_GETPAGE: {
                expect(frame, 1 + BLCKSZ);
                byte[] page = new byte[BLCKSZ];
                b.get(page);
                return new Page(page);
            }
            case TAG_ERROR:
                if (frame.length < 2 || frame[frame.length - 1] != 0) {
                    throw new IllegalArgumentException("pagestream error response is not NUL-terminated");
                }
                return new Error(new String(frame, 1, frame.length - 2, StandardCharsets.UTF_8));
            case TAG_DBSIZE:
                expect(frame, 9);
                return new DbSize(b.getLong());
            default:
                throw new IllegalArgumentException("unknown pagestream response tag " + tag);
        }
    }

    private static void expect(byte[] frame, int len) {
        if (frame.length != len) {
            throw new IllegalArgumentException("pagestream response tag " + (frame[0] & 0xFF) + " must be " + len
                + " bytes, got " + frame.length);
        }
    }
}
