package org.pageserver.redo.mask;

/** Mirrors generic_mask (generic_xlog.c, PG15): the LSN, the checksum and the unused space. */
public final class GenericMask {
    private GenericMask() {
    }

    public static void mask(byte[] p) {
        BufMask.maskPageLsnAndChecksum(p);
        BufMask.maskUnusedSpace(p);
    }
}
