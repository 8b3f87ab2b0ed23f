package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ClockCacheTest {

    @Test
    void keepsAtMostCapacityAndEvictsAnEntryNotUsedSinceTheLastSweep() {
        ClockCache<Integer, String> c = new ClockCache<>(3);
        c.put(1, "a");
        c.put(2, "b");
        c.put(3, "c");
        // first eviction: every entry starts referenced, so the hand clears all three and takes 1
        c.put(4, "d");
        assertEquals(3, c.size());
        assertNull(c.get(1));
        // 2 and 3 are unreferenced now; a hit gives 2 a second chance, so 3 goes next
        assertEquals("b", c.get(2));
        c.put(5, "e");
        assertNull(c.peek(3));
        assertEquals("b", c.peek(2));
        assertEquals("d", c.peek(4));
        assertEquals("e", c.peek(5));
    }

    @Test
    void peekDoesNotCountAsUse() {
        ClockCache<Integer, String> c = new ClockCache<>(2);
        c.put(1, "a");
        c.put(2, "b");
        c.put(3, "c"); // sweep clears both, evicts 1
        c.peek(2);
        c.put(4, "d"); // 2 was only peeked: it goes
        assertNull(c.peek(2));
        assertEquals("c", c.peek(3));
    }

    @Test
    void replaceKeepsTheSlotAndRemoveIfFreesSlotsForReuse() {
        ClockCache<Integer, String> c = new ClockCache<>(4);
        for (int i = 0; i < 4; i++) {
            c.put(i, "v" + i);
        }
        c.put(2, "new");
        assertEquals(4, c.size());
        assertEquals("new", c.get(2));
        c.removeIf(k -> k % 2 == 0);
        assertEquals(2, c.size());
        c.put(10, "x");
        c.put(11, "y");
        // the freed slots were used: nothing was evicted
        assertEquals(4, c.size());
        assertNotNull(c.peek(1));
        assertNotNull(c.peek(3));
    }

    @Test
    void underRandomUseItNeverExceedsCapacityAndAgreesWithItsIndex() {
        ClockCache<Integer, Integer> c = new ClockCache<>(50);
        Set<Integer> present = new HashSet<>();
        Random r = new Random(7);
        for (int i = 0; i < 100_000; i++) {
            int k = r.nextInt(200);
            switch (r.nextInt(10)) {
                case 0 -> {
                    int m = r.nextInt(7) + 2;
                    c.removeIf(x -> x % m == 0);
                    present.removeIf(x -> x % m == 0);
                }
                case 1, 2, 3 -> {
                    c.put(k, k * 3);
                    present.add(k);
                }
                default -> {
                    Integer v = c.get(k);
                    if (v != null) {
                        assertEquals(k * 3, v);
                    }
                }
            }
            // the cache holds a subset of what was put and not removed
            assertEquals(true, c.size() <= 50);
        }
        for (int k = 0; k < 200; k++) {
            if (c.peek(k) != null) {
                assertEquals(true, present.contains(k), "key " + k + " was removed yet is cached");
            }
        }
    }

    @Test
    void capacityZeroKeepsNothingAndNegativeIsRefused() {
        ClockCache<Integer, String> c = new ClockCache<>(0);
        c.put(1, "a");
        assertNull(c.get(1));
        assertThrows(IllegalArgumentException.class, () -> new ClockCache<Integer, String>(-1));
    }
}
