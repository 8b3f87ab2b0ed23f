package org.pageserver.protocol.tar;

/** A tar archive that cannot be read; carries the byte offset where reading stopped. */
public final class TarException extends IllegalArgumentException {
    private final long offset;

    public TarException(String message, long offset) {
        super(message + " at byte " + offset + " of the archive");
        this.offset = offset;
    }

    public long offset() {
        return offset;
    }
}
