package org.pageserver.redo;

/** TransactionId arithmetic of transam.c: modulo-2^32 comparison, special ids below 3. */
final class Xid {
    static final int INVALID = 0;
    static final int FROZEN = 2;
    static final int FIRST_NORMAL = 3;

    private Xid() {
    }

    /** TransactionIdPrecedes. */
    static boolean precedes(int id1, int id2) {
        if (Integer.compareUnsigned(id1, FIRST_NORMAL) < 0 || Integer.compareUnsigned(id2, FIRST_NORMAL) < 0) {
            return Integer.compareUnsigned(id1, id2) < 0;
        }
        return id1 - id2 < 0;
    }
}
