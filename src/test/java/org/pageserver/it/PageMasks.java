package org.pageserver.it;

import org.pageserver.redo.mask.BufMask;

/** Pages of the pageserver and of the primary's files made comparable. */
final class PageMasks {
    private PageMasks() {
    }

    /**
     * As wal_consistency_checking masks a page; a new page (all zeros: a relation extended whose
     * block was not written yet, e.g. by RelationAddExtraBlocks under concurrent inserts) as it
     * is, since there is nothing to mask. Masks {@code page} in place and returns it.
     */
    static byte[] mask(byte[] page, boolean btree, int block) {
        boolean isNew = page[14] == 0 && page[15] == 0;
        if (isNew) {
            return page;
        }
        if (btree) {
            BufMask.btreeMask(page);
        } else {
            BufMask.heapMask(page, block);
        }
        return page;
    }
}
