package org.pageserver.streams.replication;

import java.io.IOException;
import java.io.InputStream;
import org.pageserver.protocol.Lsn;

/** Receives a base backup as it streams in, on the connection's thread. */
public interface BaseBackupSink {
    /** The backup's start position, before any archive. */
    void start(Lsn startLsn, int timeline);

    /**
     * A tar archive: "base.tar", or a tablespace's ("&lt;oid&gt;.tar") with its location. Read
     * {@code data} before returning: it is the connection's socket, and what is left unread is
     * skipped.
     */
    void archive(String name, String tablespaceLocation, InputStream data) throws IOException;
}
