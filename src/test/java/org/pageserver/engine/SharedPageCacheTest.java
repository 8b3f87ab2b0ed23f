package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;
import org.pageserver.engine.SharedPageCache.CachedPage;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

/** One page cache for every tenant: sized in bytes, keyed by tenant, counted per tenant. */
class SharedPageCacheTest {
    static final RelTag REL = new RelTag(1663, 5, 16384, ForkNumber.MAIN);

    static CachedPage page(int fill) {
        byte[] p = new byte[8192];
        java.util.Arrays.fill(p, (byte) fill);
        return new CachedPage(Lsn.parse("0/100"), p, true);
    }

    @Test
    void theSameBlockOfTwoTenantsIsTwoEntries() {
        SharedPageCache cache = new SharedPageCache(16L << 20);
        SharedPageCache.TenantPages a = cache.tenant(new SystemId(1));
        SharedPageCache.TenantPages b = cache.tenant(new SystemId(2));
        CachedPage pa = page(1);
        CachedPage pb = page(2);
        a.put(new BufferTag(REL, 0), pa);
        b.put(new BufferTag(REL, 0), pb);
        assertSame(pa, a.get(new BufferTag(REL, 0)));
        assertSame(pb, b.get(new BufferTag(REL, 0)));
        a.clear();
        assertNull(a.get(new BufferTag(REL, 0)));
        assertSame(pb, b.get(new BufferTag(REL, 0)), "clearing one tenant leaves the others' pages");
        assertEquals(0, a.size());
        assertEquals(1, b.size());
    }

    @Test
    void theBudgetIsInBytesForAllTenantsTogether() {
        long bytes = 4096L * SharedPageCache.ENTRY_BYTES;
        SharedPageCache cache = new SharedPageCache(bytes);
        assertEquals(4096, cache.capacityPages());
        SharedPageCache.TenantPages[] tenants = new SharedPageCache.TenantPages[10];
        for (int t = 0; t < tenants.length; t++) {
            tenants[t] = cache.tenant(new SystemId(t + 1));
            for (int blk = 0; blk < 1000; blk++) {
                tenants[t].put(new BufferTag(REL, blk), page(t));
            }
        }
        int total = 0;
        long evicted = 0;
        for (SharedPageCache.TenantPages t : tenants) {
            total += t.size();
            evicted += t.evictions();
        }
        assertEquals(4096, total, "ten tenants of 1000 pages share the 4096 pages the budget holds");
        assertEquals(10 * 1000 - 4096, evicted);
    }

    @Test
    void removeIfTakesOnlyTheTenantsMatchingBlocks() {
        SharedPageCache cache = new SharedPageCache(16L << 20);
        SharedPageCache.TenantPages a = cache.tenant(new SystemId(1));
        SharedPageCache.TenantPages b = cache.tenant(new SystemId(2));
        for (int blk = 0; blk < 10; blk++) {
            a.put(new BufferTag(REL, blk), page(blk));
            b.put(new BufferTag(REL, blk), page(blk));
        }
        a.removeIf(t -> t.blkno() >= 4);
        assertEquals(4, a.size());
        assertEquals(10, b.size());
        assertNull(a.peek(new BufferTag(REL, 4)));
    }
}
