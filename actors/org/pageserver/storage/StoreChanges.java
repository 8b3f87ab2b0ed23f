package org.pageserver.storage;

import java.util.Map;
import java.util.Set;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.RelTag;

/**
 * What one committed write batch changed: blocks that got a WAL record or an image, and
 * relations that got a new size ({@code -1}: dropped). Sent with the watermark to the page cache,
 * which keeps pages and sizes as of the newest LSN and must drop exactly what became stale.
 */
public record StoreChanges(Set<BufferTag> pages, Map<RelTag, Integer> sizes) {
    public static final StoreChanges NONE = new StoreChanges(Set.of(), Map.of());

    /** Both: the pages of either, and for a relation sized in both, {@code later}'s size. */
    public StoreChanges plus(StoreChanges later) {
        if (isEmpty()) {
            return later;
        }
        if (later.isEmpty()) {
            return this;
        }
        java.util.Set<org.pageserver.protocol.BufferTag> p = new java.util.HashSet<>(pages);
        p.addAll(later.pages);
        java.util.Map<RelTag, Integer> s = new java.util.HashMap<>(sizes);
        s.putAll(later.sizes);
        return new StoreChanges(Set.copyOf(p), Map.copyOf(s));
    }

    public boolean isEmpty() {
        return pages.isEmpty() && sizes.isEmpty();
    }
}
