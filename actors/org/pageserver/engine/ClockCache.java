package org.pageserver.engine;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A bounded map evicting by CLOCK (second chance), as PostgreSQL's buffer manager does
 * (StrategyGetBuffer, freelist.c, with a usage count of one): a hit sets a flag, and eviction
 * sweeps a hand around the slots, clearing flags, until it finds one not set.
 *
 * <p>Why not an access-ordered LinkedHashMap: every hit there relinks the entry, writing two
 * references into long-lived (old generation) nodes, and each such write dirties a card the
 * garbage collector must then scan; at tens of thousands of hits a second that card refinement
 * cost more CPU than serving the hit. A hit here writes one boolean.
 *
 * <p>Not thread-safe: owned by one actor.
 */
public final class ClockCache<K, V> {

    private static final class Entry<K, V> {
        final K key;
        V value;
        boolean referenced;
        final int slot;

        Entry(K key, V value, int slot) {
            this.key = key;
            this.value = value;
            this.slot = slot;
        }
    }

    private final int capacity;
    private final Map<K, Entry<K, V>> index;
    private final Entry<K, V>[] slots;
    /** Slots never used or freed by {@link #removeIf}: a stack of slot numbers. */
    private final int[] free;
    private int freeCount;
    private int used;
    private int hand;
    private long evictions;
    /** Told the value of every entry evicted to make room. */
    private final Consumer<? super V> onEvict;

    public ClockCache(int capacity) {
        this(capacity, v -> { });
    }

    @SuppressWarnings("unchecked")
    public ClockCache(int capacity, Consumer<? super V> onEvict) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        this.capacity = capacity;
        this.onEvict = onEvict;
        this.index = new HashMap<>(Math.min(capacity, 1 << 16) * 4 / 3 + 1);
        this.slots = (Entry<K, V>[]) new Entry[capacity];
        this.free = new int[capacity];
    }

    public int size() {
        return index.size();
    }

    /** Entries evicted to make room so far. */
    public long evictions() {
        return evictions;
    }

    /** The value, marking it recently used; null if absent. */
    public V get(K key) {
        Entry<K, V> e = index.get(key);
        if (e == null) {
            return null;
        }
        e.referenced = true;
        return e.value;
    }

    /** The value without marking it used (for bookkeeping reads that are not hits). */
    public V peek(K key) {
        Entry<K, V> e = index.get(key);
        return e == null ? null : e.value;
    }

    /**
     * Inserts or replaces; evicts one entry when full. A new entry starts referenced. Capacity 0
     * keeps nothing. True when the key was not there before (and is now).
     */
    public boolean put(K key, V value) {
        if (capacity == 0) {
            return false;
        }
        Entry<K, V> e = index.get(key);
        if (e != null) {
            e.value = value;
            e.referenced = true;
            return false;
        }
        int slot;
        if (freeCount > 0) {
            slot = free[--freeCount];
        } else if (used < capacity) {
            slot = used++;
        } else {
            slot = evict();
        }
        e = new Entry<>(key, value, slot);
        e.referenced = true;
        slots[slot] = e;
        index.put(key, e);
        return true;
    }

    /** Sweeps the hand to an entry not referenced since the last sweep, removes it, returns its slot. */
    private int evict() {
        while (true) {
            Entry<K, V> e = slots[hand];
            int slot = hand;
            hand = hand + 1 == used ? 0 : hand + 1;
            if (e == null) {
                // cannot happen: eviction runs only when no slot is free
                continue;
            }
            if (e.referenced) {
                e.referenced = false;
            } else {
                index.remove(e.key);
                slots[slot] = null;
                evictions++;
                onEvict.accept(e.value);
                return slot;
            }
        }
    }

    /** Removes every entry whose key matches; returns how many. */
    public int removeIf(Predicate<? super K> matches) {
        int removed = 0;
        for (int i = 0; i < used; i++) {
            Entry<K, V> e = slots[i];
            if (e != null && matches.test(e.key)) {
                index.remove(e.key);
                slots[i] = null;
                free[freeCount++] = i;
                removed++;
            }
        }
        return removed;
    }
}
