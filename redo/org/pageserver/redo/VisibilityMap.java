package org.pageserver.redo;

/**
 * The visibility map fork's page contents (visibilitymap.c, PG15): after the page header, two
 * bits per heap block (all-visible 0x01, all-frozen 0x02), MAPSIZE bytes per page.
 */
public final class VisibilityMap {
    public static final int VISIBILITYMAP_ALL_VISIBLE = 0x01;
    public static final int VISIBILITYMAP_ALL_FROZEN = 0x02;
    public static final int VISIBILITYMAP_VALID_BITS = 0x03;
    static final int MAPSIZE = Page.BLCKSZ - Page.maxAlign(Page.SIZE_OF_PAGE_HEADER_DATA);
    static final int HEAPBLOCKS_PER_BYTE = 4;
    public static final int HEAPBLOCKS_PER_PAGE = MAPSIZE * HEAPBLOCKS_PER_BYTE;

    private VisibilityMap() {
    }

    /** HEAPBLK_TO_MAPBLOCK: the VM block holding the bits of heap block {@code heapBlk}. */
    public static int mapBlock(int heapBlk) {
        return (int) (Integer.toUnsignedLong(heapBlk) / HEAPBLOCKS_PER_PAGE);
    }

    static int byteOffset(int heapBlk) {
        int inPage = (int) (Integer.toUnsignedLong(heapBlk) % HEAPBLOCKS_PER_PAGE);
        return Page.maxAlign(Page.SIZE_OF_PAGE_HEADER_DATA) + inPage / HEAPBLOCKS_PER_BYTE;
    }

    static int bitShift(int heapBlk) {
        return (int) (Integer.toUnsignedLong(heapBlk) % HEAPBLOCKS_PER_BYTE) * 2;
    }

    /** visibilitymap_set on the page: returns true when bits changed (then PG sets the page LSN). */
    static boolean set(byte[] vm, int heapBlk, int flags) {
        int b = byteOffset(heapBlk);
        int shift = bitShift(heapBlk);
        if (flags != ((vm[b] >> shift) & VISIBILITYMAP_VALID_BITS)) {
            vm[b] = (byte) (vm[b] | (flags << shift));
            return true;
        }
        return false;
    }

    /** The truncation of visibilitymap_prepare_truncate on the last kept page: bits of heap blocks >= heapBlocks cleared. */
    static void truncate(byte[] vm, int heapBlocks) {
        int truncByte = byteOffset(heapBlocks);
        int truncOffset = bitShift(heapBlocks);
        java.util.Arrays.fill(vm, truncByte + 1, Page.BLCKSZ, (byte) 0);
        vm[truncByte] = (byte) (vm[truncByte] & ((1 << truncOffset) - 1));
    }

    /** visibilitymap_clear on the page: the given bits of that heap block cleared; no LSN change. */
    static void clear(byte[] vm, int heapBlk, int flags) {
        int b = byteOffset(heapBlk);
        vm[b] = (byte) (vm[b] & ~(flags << bitShift(heapBlk)));
    }
}
