package org.pageserver.protocol;

/**
 * One block of one relation fork: PostgreSQL's BufferTag (storage/buf_internals.h), the key a
 * page is cached under. The block number is an unsigned 32-bit value held in an int.
 */
public record BufferTag(RelTag rel, int blkno) {
    public BufferTag {
        if (rel == null) {
            throw new IllegalArgumentException("rel is null");
        }
    }

    @Override
    public String toString() {
        return rel + " block " + Integer.toUnsignedString(blkno);
    }
}
