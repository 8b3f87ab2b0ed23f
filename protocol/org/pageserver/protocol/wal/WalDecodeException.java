package org.pageserver.protocol.wal;

import org.pageserver.protocol.Lsn;

/** WAL that cannot be decoded. The message always ends with the LSN where decoding stopped. */
public final class WalDecodeException extends RuntimeException {
    private final Lsn lsn;

    public WalDecodeException(String message, Lsn lsn) {
        super(message + " at " + lsn);
        this.lsn = lsn;
    }

    public WalDecodeException(String message, Lsn lsn, Throwable cause) {
        super(message + " at " + lsn, cause);
        this.lsn = lsn;
    }

    public Lsn lsn() {
        return lsn;
    }
}
