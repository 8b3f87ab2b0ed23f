package org.pageserver.storage;

import org.pageserver.protocol.Lsn;

/** A read as of an LSN whose older versions the retention may have removed. */
public final class BelowHorizonException extends StorageException {
    public BelowHorizonException(Lsn lsn, Lsn horizon, String systemId) {
        super("LSN " + lsn + " is below the retention horizon " + horizon + " of tenant " + systemId);
    }
}
