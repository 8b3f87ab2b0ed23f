package org.pageserver.streams.replication;

import org.pageserver.protocol.Lsn;

/** Receives a base backup as it streams in, on the connection's thread. */
public interface BaseBackupSink {
    /** The backup's start position, before any archive. */
    void start(Lsn startLsn, int timeline);

    /** A new tar archive begins: "base.tar", or a tablespace's with its location. */
    void archive(String name, String tablespaceLocation);

    /** The next bytes of the current archive. */
    void data(byte[] buf, int off, int len);
}
