package org.pageserver.streams.tcp;

/**
 * Settings of {@link NioTcpServer}.
 *
 * @param readChunkBytes   most bytes one read takes from a socket (one element downstream)
 * @param readAheadChunks  chunks a connection reads before its protocol takes one; the bound
 *                         on what a connection buffers on its read side
 * @param sendBufferBytes  each connection's direct buffer for sending (an element larger than
 *                         this goes out in several writes)
 * @param backlog          listen backlog (as PostgreSQL's, which uses MaxConnections * 2)
 * @param idleSpinNanos    how long the selector thread keeps polling after its last event before
 *                         it sleeps (a request arriving meanwhile is read without waking it); 0
 *                         sleeps at once
 */
public record TcpSettings(int readChunkBytes, int readAheadChunks, int sendBufferBytes, int backlog,
                          long idleSpinNanos) {

    /** A send buffer of 16 kB holds a page response whole; larger elements take several writes. */
    public static final TcpSettings DEFAULTS = new TcpSettings(64 * 1024, 2, 16 * 1024, 1024, 100_000);

    public TcpSettings withIdleSpinNanos(long v) {
        return new TcpSettings(readChunkBytes, readAheadChunks, sendBufferBytes, backlog, v);
    }

    public TcpSettings {
        if (readChunkBytes < 1024) {
            throw new IllegalArgumentException("readChunkBytes must be at least 1024: " + readChunkBytes);
        }
        if (readAheadChunks < 1) {
            throw new IllegalArgumentException("readAheadChunks must be positive: " + readAheadChunks);
        }
        if (sendBufferBytes < 1024) {
            throw new IllegalArgumentException("sendBufferBytes must be at least 1024: " + sendBufferBytes);
        }
        if (idleSpinNanos < 0) {
            throw new IllegalArgumentException("idleSpinNanos must not be negative: " + idleSpinNanos);
        }
        if (backlog < 1) {
            throw new IllegalArgumentException("backlog must be positive: " + backlog);
        }
    }
}
