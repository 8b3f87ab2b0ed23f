package org.pageserver.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The page cache's error messages (PageCache, RedoWorker) as the result label counts them. */
class GetPageResultTest {
    @Test
    void everyPageCacheErrorHasItsKind() {
        assertEquals(GetPageResult.INVALID_LSN, GetPageResult.ofError("invalid LSN 0/0"));
        assertEquals(GetPageResult.BELOW_CONSISTENT_LSN, GetPageResult.ofError("LSN 0/10 is below the consistent point "
            + "0/2000028: pages are not kept before the initial backup completed"));
        assertEquals(GetPageResult.BELOW_HORIZON, GetPageResult.ofError("LSN 0/10 is below the retention horizon "
            + "0/5000000 of tenant 7311000000000000001"));
        assertEquals(GetPageResult.NOT_FOUND, GetPageResult.ofError("relation 1663/5/16384 does not exist at 0/3000000"));
        assertEquals(GetPageResult.NOT_FOUND, GetPageResult.ofError("block 9 of relation 1663/5/16384 does not exist at "
            + "0/3000000 (relation has 3 blocks)"));
        assertEquals(GetPageResult.WAL_TIMEOUT, GetPageResult.ofError("WAL up to 0/9000000 was not received within "
            + "20000 ms (received up to 0/3000000)"));
        assertEquals(GetPageResult.REDO_ERROR, GetPageResult.ofError("cannot reconstruct block 1 of 1663/5/1 at 0/3: x"));
        assertEquals(GetPageResult.STORAGE_ERROR, GetPageResult.ofError("storage read failed: closed"));
        assertEquals(GetPageResult.OTHER_ERROR, GetPageResult.ofError("something new"));
    }
}
