package org.pageserver.protocol.replication;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.pageserver.protocol.Lsn;

/**
 * The messages carried inside CopyData on a physical replication connection ("Streaming
 * Replication Protocol", PostgreSQL 15 docs; walsender.c, walreceiver.c) and inside the
 * CopyOut of BASE_BACKUP (basebackup_copy.c). Big-endian, first byte tells the kind.
 *
 * <pre>
 * XLogData          'w' | dataStart u64 | walEnd u64 | sendTime i64 | WAL bytes...
 * PrimaryKeepalive  'k' | walEnd u64 | sendTime i64 | replyRequested u8
 * StandbyStatus     'r' | write u64 | flush u64 | apply u64 | sendTime i64 | replyRequested u8
 * BASE_BACKUP:      'n' | archive name \0 | tablespace path \0
 *                   'd' | archive bytes...
 *                   'p' | bytes done u64
 *                   'm' (manifest follows as 'd' messages)
 * </pre>
 * Times are microseconds since 2000-01-01 00:00 UTC.
 */
public sealed interface ReplicationMessage {

    /** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
    long POSTGRES_EPOCH_MICROS = 946_684_800_000_000L;

    record XLogData(Lsn dataStart, Lsn walEnd, long sendTime, byte[] data) implements ReplicationMessage {
    }

    record PrimaryKeepalive(Lsn walEnd, long sendTime, boolean replyRequested) implements ReplicationMessage {
    }

    record StandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, long sendTime, boolean replyRequested)
        implements ReplicationMessage {
        public byte[] toBytes() {
            return ByteBuffer.allocate(34).order(ByteOrder.BIG_ENDIAN).put((byte) 'r').putLong(write.value())
                .putLong(flush.value()).putLong(apply.value()).putLong(sendTime).put((byte) (replyRequested ? 1 : 0))
                .array();
        }
    }

    record NewArchive(String name, String tablespaceLocation) implements ReplicationMessage {
        /** 'n', the name and the location (empty for the data directory), each NUL-terminated. */
        public byte[] toBytes() {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            byte[] l = tablespaceLocation == null ? new byte[0] : tablespaceLocation.getBytes(StandardCharsets.UTF_8);
            return ByteBuffer.allocate(1 + n.length + 1 + l.length + 1).put((byte) 'n').put(n).put((byte) 0).put(l)
                .put((byte) 0).array();
        }
    }

    /** Archive bytes: {@code data[offset, offset+length)} of the CopyData payload. */
    record ArchiveData(byte[] payload, int offset, int length) implements ReplicationMessage {
    }

    record Progress(long bytesDone) implements ReplicationMessage {
        public byte[] toBytes() {
            return ByteBuffer.allocate(9).order(ByteOrder.BIG_ENDIAN).put((byte) 'p').putLong(bytesDone).array();
        }
    }

    /** The 'd' message carrying {@code len} archive bytes of {@code data} from {@code off}. */
    static byte[] archiveData(byte[] data, int off, int len) {
        byte[] m = new byte[1 + len];
        m[0] = 'd';
        System.arraycopy(data, off, m, 1, len);
        return m;
    }

    record ManifestStart() implements ReplicationMessage {
        public byte[] toBytes() {
            return new byte[] {'m'};
        }
    }

    /** Now as PostgreSQL's TimestampTz. */
    static long now() {
        return System.currentTimeMillis() * 1000 - POSTGRES_EPOCH_MICROS;
    }

    /** A CopyData payload of START_REPLICATION. */
    static ReplicationMessage parseStreaming(byte[] p) {
        if (p.length == 0) {
            throw new IllegalArgumentException("empty replication message");
        }
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.BIG_ENDIAN);
        try {
            switch (b.get()) {
                case 'w': {
                    if (p.length < 25) {
                        throw new IllegalArgumentException("XLogData message too short: " + p.length + " bytes");
                    }
                    Lsn start = new Lsn(b.getLong());
                    Lsn end = new Lsn(b.getLong());
                    long time = b.getLong();
                    byte[] data = new byte[p.length - 25];
                    b.get(data);
                    return new XLogData(start, end, time, data);
                }
                case 'k': {
                    if (p.length != 18) {
                        throw new IllegalArgumentException("keepalive message must be 18 bytes, got " + p.length);
                    }
                    return new PrimaryKeepalive(new Lsn(b.getLong()), b.getLong(), b.get() != 0);
                }
                case 'r': {
                    if (p.length != 34) {
                        throw new IllegalArgumentException("standby status message must be 34 bytes, got " + p.length);
                    }
                    return new StandbyStatusUpdate(new Lsn(b.getLong()), new Lsn(b.getLong()), new Lsn(b.getLong()),
                        b.getLong(), b.get() != 0);
                }
                default:
                    throw new IllegalArgumentException("unknown replication message type '" + (char) (p[0] & 0xFF) + "'");
            }
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("truncated replication message");
        }
    }

    /** A CopyData payload of BASE_BACKUP's copy stream (PG15 format). */
    static ReplicationMessage parseBackup(byte[] p) {
        if (p.length == 0) {
            throw new IllegalArgumentException("empty base backup message");
        }
        switch (p[0]) {
            case 'n': {
                int z1 = indexOfNul(p, 1);
                int z2 = z1 < 0 ? -1 : indexOfNul(p, z1 + 1);
                if (z2 < 0) {
                    throw new IllegalArgumentException("new-archive message without its two strings");
                }
                String name = new String(p, 1, z1 - 1, StandardCharsets.UTF_8);
                String loc = new String(p, z1 + 1, z2 - z1 - 1, StandardCharsets.UTF_8);
                return new NewArchive(name, loc.isEmpty() ? null : loc);
            }
            case 'd':
                return new ArchiveData(p, 1, p.length - 1);
            case 'p':
                if (p.length != 9) {
                    throw new IllegalArgumentException("progress message must be 9 bytes, got " + p.length);
                }
                return new Progress(ByteBuffer.wrap(p, 1, 8).order(ByteOrder.BIG_ENDIAN).getLong());
            case 'm':
                return new ManifestStart();
            default:
                throw new IllegalArgumentException("unknown base backup message type '" + (char) (p[0] & 0xFF) + "'");
        }
    }

    private static int indexOfNul(byte[] p, int from) {
        for (int i = from; i < p.length; i++) {
            if (p[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
