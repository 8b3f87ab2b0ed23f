package org.pageserver.protocol.control;

/** pg_control that cannot be used: wrong size, wrong version or a bad checksum. */
public final class ControlFileException extends IllegalArgumentException {
    public ControlFileException(String message) {
        super(message);
    }
}
