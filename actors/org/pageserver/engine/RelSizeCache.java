package org.pageserver.engine;

import java.util.HashMap;
import java.util.Map;
import org.pageserver.protocol.RelTag;

/**
 * The relation sizes (nblocks; -1: the relation does not exist) of one tenant as of its
 * watermark, kept current by the changes that come with each watermark, so that most size
 * questions and the size check of a page read need no storage read. Not thread-safe: owned by
 * the tenant's page cache actor.
 */
public final class RelSizeCache {
    private final Map<RelTag, Integer> sizes = new HashMap<>();

    /** The size as of the watermark, or null when not known here (then it is read from storage). */
    public Integer known(RelTag rel) {
        return sizes.get(rel);
    }

    /** A size read from storage as of the watermark, with no change since. */
    public void remember(RelTag rel, int size) {
        sizes.put(rel, size);
    }

    /**
     * The WAL up to the new watermark set the size of {@code rel} to {@code size}. True when the
     * relation only grew from a known size: then every block cached for it is still a block of
     * it; otherwise (shrunk, dropped, created anew, or of unknown size before) cached blocks at
     * or past the new end must go.
     */
    public boolean changed(RelTag rel, int size) {
        Integer known = sizes.put(rel, size);
        return known != null && size >= 0 && known >= 0 && Integer.compareUnsigned(size, known) >= 0;
    }
}
