package org.pageserver.protocol.pagestream;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;

/**
 * One request of the {@code pagestream} sub-protocol: the payload of one CopyData from the
 * compute. Big-endian. This layout is a contract with compute nodes and other tools.
 *
 * <pre>
 * exists / nblocks / getpage:
 *  0      1        2            10          14          18          22       23          27
 *  +------+--------+------------+-----------+-----------+-----------+--------+-----------+
 *  | tag  | latest | lsn u64    | spcnode   | dbnode    | relnode   | forknum| blkno u32 |
 *  | u8   | u8     |            | u32       | u32       | u32       | u8     | (getpage) |
 *  +------+--------+------------+-----------+-----------+-----------+--------+-----------+
 * dbsize:
 *  +------+--------+------------+-----------+
 *  | 3    | latest | lsn u64    | dbnode u32|
 *  +------+--------+------------+-----------+
 * </pre>
 *
 * {@code latest} = 1: at least this LSN, newest available; 0: exactly as of this LSN.
 */
public sealed interface PageStreamRequest {
    int TAG_EXISTS = 0;
    int TAG_NBLOCKS = 1;
    int TAG_GETPAGE = 2;
    int TAG_DBSIZE = 3;
    /** The longest request (getpage): a CopyData longer than this is no request, refused unread. */
    int MAX_SIZE = 27;

    Lsn lsn();

    boolean latest();

    byte[] write();

    record Exists(boolean latest, Lsn lsn, RelTag rel) implements PageStreamRequest {
        @Override
        public byte[] write() {
            return relRequest(TAG_EXISTS, latest, lsn, rel, 22).array();
        }
    }

    record Nblocks(boolean latest, Lsn lsn, RelTag rel) implements PageStreamRequest {
        @Override
        public byte[] write() {
            return relRequest(TAG_NBLOCKS, latest, lsn, rel, 22).array();
        }
    }

    record GetPage(boolean latest, Lsn lsn, RelTag rel, int blkno) implements PageStreamRequest {
        @Override
        public byte[] write() {
            return relRequest(TAG_GETPAGE, latest, lsn, rel, 26).putInt(blkno).array();
        }
    }

    record DbSize(boolean latest, Lsn lsn, int dbNode) implements PageStreamRequest {
        @Override
        public byte[] write() {
            return header(TAG_DBSIZE, latest, lsn, 14).putInt(dbNode).array();
        }
    }

    /** A request that cannot be parsed; the message says why. */
    final class MalformedRequest extends IllegalArgumentException {
        public MalformedRequest(String message) {
            super(message);
        }
    }

    static PageStreamRequest parse(byte[] frame) {
        if (frame.length < 10) {
            throw new MalformedRequest("pagestream request too short: " + frame.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.BIG_ENDIAN);
        int tag = b.get() & 0xFF;
        int latestByte = b.get() & 0xFF;
        if (latestByte > 1) {
            throw new MalformedRequest("pagestream request: latest must be 0 or 1, got " + latestByte);
        }
        boolean latest = latestByte == 1;
        Lsn lsn = new Lsn(b.getLong());
        int expected = switch (tag) {
            case TAG_EXISTS, TAG_NBLOCKS -> 23;
            case TAG_GETPAGE -> MAX_SIZE;
            case TAG_DBSIZE -> 14;
            default -> throw new MalformedRequest("unknown pagestream request tag " + tag);
        };
        if (frame.length != expected) {
            throw new MalformedRequest("pagestream request tag " + tag + " must be " + expected + " bytes, got "
                + frame.length);
        }
        try {
            if (tag == TAG_DBSIZE) {
                return new DbSize(latest, lsn, b.getInt());
            }
            int spc = b.getInt();
            int db = b.getInt();
            int rel = b.getInt();
            int fork = b.get() & 0xFF;
            if (fork > ForkNumber.MAX_FORKNUM) {
                throw new MalformedRequest("invalid fork number " + fork);
            }
            RelTag r = new RelTag(spc, db, rel, ForkNumber.of(fork));
            return switch (tag) {
                case TAG_EXISTS -> new Exists(latest, lsn, r);
                case TAG_NBLOCKS -> new Nblocks(latest, lsn, r);
                default -> new GetPage(latest, lsn, r, b.getInt());
            };
        } catch (BufferUnderflowException e) {
            throw new MalformedRequest("truncated pagestream request");
        }
    }

    private static ByteBuffer header(int tag, boolean latest, Lsn lsn, int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.BIG_ENDIAN).put((byte) tag).put((byte) (latest ? 1 : 0))
            .putLong(lsn.value());
    }

    private static ByteBuffer relRequest(int tag, boolean latest, Lsn lsn, RelTag rel, int size) {
        return header(tag, latest, lsn, size + 1).putInt(rel.spcNode()).putInt(rel.dbNode()).putInt(rel.relNode())
            .put((byte) rel.fork().number);
    }
}
