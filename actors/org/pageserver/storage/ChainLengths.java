package org.pageserver.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.pageserver.protocol.BufferTag;

/**
 * How many WAL records each block got since the compaction last made an image of it, counted
 * by the ingest's write batches once committed: how the compaction finds long chains without
 * scanning the store. In memory only (one entry per block written since its last image): after
 * a restart the counts start again from zero, which only delays an image, and the retention
 * pass makes one at the horizon for every block anyway.
 */
final class ChainLengths {
    private final ConcurrentHashMap<BufferTag, Integer> counts = new ConcurrentHashMap<>();

    void added(Map<BufferTag, Integer> records) {
        records.forEach((tag, n) -> counts.merge(tag, n, Integer::sum));
    }

    /** Blocks with at least {@code threshold} records since their last image, with their counts. */
    List<Map.Entry<BufferTag, Integer>> atLeast(int threshold) {
        List<Map.Entry<BufferTag, Integer>> out = new ArrayList<>();
        counts.forEach((tag, n) -> {
            if (n >= threshold) {
                out.add(Map.entry(tag, n));
            }
        });
        return out;
    }

    /**
     * An image now holds {@code counted} of the block's records (those counted when it was
     * chosen; records counted since stay counted).
     */
    void imaged(BufferTag tag, int counted) {
        counts.computeIfPresent(tag, (k, n) -> n <= counted ? null : n - counted);
    }

    int size() {
        return counts.size();
    }
}
