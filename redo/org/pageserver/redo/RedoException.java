package org.pageserver.redo;

import org.pageserver.protocol.Lsn;

/** A record that cannot be redone: unsupported, or inconsistent with the page. Names the LSN. */
public final class RedoException extends RuntimeException {
    public RedoException(String message, Lsn lsn) {
        super(message + " at " + lsn);
    }
}
