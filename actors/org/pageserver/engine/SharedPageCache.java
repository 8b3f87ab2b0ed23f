package org.pageserver.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The page cache of the whole process (pageserver.page-cache): one memory budget in bytes for
 * every tenant, as shared_buffers is one for every database of a PostgreSQL instance. Its key
 * holds the tenant; a busy tenant takes room from idle ones by the same CLOCK sweep.
 *
 * <p>Thread-safe: the page cache actors of all tenants use it at once. It is split into stripes
 * by key, each a {@link ClockCache} under its own lock, so that tenants served on different
 * threads rarely wait for each other. A key is only ever written by its own tenant's actor
 * (other tenants only evict it), so a tenant's read-then-write of one key needs no lock across.
 */
public final class SharedPageCache {
    /**
     * What one cached page is counted as: the 8 kB page and, estimated for a 64-bit JVM with
     * compressed pointers, its array header, CachedPage, slot, key, ClockCache entry and hash
     * map node.
     */
    public static final int ENTRY_BYTES = 8192 + 160;
    private static final int MAX_STRIPES = 16;
    /** A stripe holds at least this many pages, so a small cache is not cut into useless slivers. */
    private static final int MIN_STRIPE_PAGES = 256;

    /**
     * A cached page: the block as of {@code lsn}. {@code current}: also as of the tenant's
     * watermark, because no WAL up to the watermark touched the block since; such a page answers
     * every read between {@code lsn} and the watermark without touching storage. The page array
     * is never written to once cached.
     */
    public record CachedPage(Lsn lsn, byte[] page, boolean current) {
    }

    private record Key(long tenant, BufferTag tag) {
    }

    private record Slot(TenantPages owner, CachedPage page) {
    }

    private final ClockCache<Key, Slot>[] stripes;
    private final long capacityPages;

    @SuppressWarnings("unchecked")
    public SharedPageCache(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("page cache size must not be negative: " + bytes);
        }
        long pages = bytes / ENTRY_BYTES;
        if (pages > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page cache of " + bytes + " bytes is too large");
        }
        int n = (int) Math.max(1, Math.min(MAX_STRIPES, pages / MIN_STRIPE_PAGES));
        this.stripes = new ClockCache[n];
        for (int i = 0; i < n; i++) {
            // the first stripes take the remainder: the capacities add up to exactly `pages`
            int cap = (int) (pages / n + (i < pages % n ? 1 : 0));
            stripes[i] = new ClockCache<>(cap, s -> s.owner().evicted());
        }
        this.capacityPages = pages;
    }

    /** How many pages fit. */
    public long capacityPages() {
        return capacityPages;
    }

    /** One tenant's part of the cache. Call once per tenant incarnation; {@link TenantPages#clear} on its end. */
    public TenantPages tenant(SystemId systemId) {
        return new TenantPages(systemId.value());
    }

    private ClockCache<Key, Slot> stripe(Key k) {
        int h = k.hashCode();
        return stripes[Math.floorMod(h ^ (h >>> 16), stripes.length)];
    }

    /** The pages of one tenant. Its counts are of its own pages, whoever evicted them. */
    public final class TenantPages {
        private final long tenant;
        private final AtomicInteger size = new AtomicInteger();
        private final AtomicLong evictions = new AtomicLong();

        private TenantPages(long tenant) {
            this.tenant = tenant;
        }

        /** The cached page, marking it recently used; null if absent. */
        public CachedPage get(BufferTag tag) {
            Key k = new Key(tenant, tag);
            ClockCache<Key, Slot> s = stripe(k);
            synchronized (s) {
                Slot slot = s.get(k);
                return slot == null ? null : slot.page();
            }
        }

        /** The cached page without marking it used (for bookkeeping reads that are not hits). */
        public CachedPage peek(BufferTag tag) {
            Key k = new Key(tenant, tag);
            ClockCache<Key, Slot> s = stripe(k);
            synchronized (s) {
                Slot slot = s.peek(k);
                return slot == null ? null : slot.page();
            }
        }

        public void put(BufferTag tag, CachedPage page) {
            Key k = new Key(tenant, tag);
            ClockCache<Key, Slot> s = stripe(k);
            synchronized (s) {
                if (s.put(k, new Slot(this, page))) {
                    size.incrementAndGet();
                }
            }
        }

        /** Removes this tenant's pages whose block matches. */
        public void removeIf(Predicate<BufferTag> matches) {
            for (ClockCache<Key, Slot> s : stripes) {
                int removed;
                synchronized (s) {
                    removed = s.removeIf(k -> k.tenant() == tenant && matches.test(k.tag()));
                }
                size.addAndGet(-removed);
            }
        }

        /** Removes every page of this tenant (it stopped, or was detached). */
        public void clear() {
            removeIf(t -> true);
        }

        /** Pages of this tenant cached now. */
        public int size() {
            return size.get();
        }

        /** Pages of this tenant evicted to make room so far. */
        public long evictions() {
            return evictions.get();
        }

        private void evicted() {
            size.decrementAndGet();
            evictions.incrementAndGet();
        }
    }
}
