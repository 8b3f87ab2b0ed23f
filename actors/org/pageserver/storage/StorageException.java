package org.pageserver.storage;

/** A failure of the tenant store (I/O, corruption). Fails the tenant, never the server. */
public class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }

    public StorageException(String message) {
        super(message);
    }
}
