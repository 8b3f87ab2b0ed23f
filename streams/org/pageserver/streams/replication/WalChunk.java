package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;

/**
 * A piece of WAL as received from the primary: the payload of one XLogData ('w') message.
 *
 * @param start        dataStart of the message: LSN of data[0]
 * @param data         the WAL bytes (owned by the receiver of the chunk)
 * @param serverWalEnd the primary's current end of WAL when it sent this
 * @param sendTime     the primary's clock when it sent this (TimestampTz: µs since 2000-01-01), 0 if unknown
 */
public record WalChunk(Lsn start, byte[] data, Lsn serverWalEnd, long sendTime) {
    public WalChunk(Lsn start, byte[] data, Lsn serverWalEnd) {
        this(start, data, serverWalEnd, 0);
    }

    public Lsn end() {
        return start.plus(data.length);
    }
}
