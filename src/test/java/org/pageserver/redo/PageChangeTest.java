package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The byte a stored record's page change is kept as: data written by earlier versions must read the same. */
class PageChangeTest {
    @Test
    void theStoredBytesAreTheOnesEarlierVersionsWrote() {
        assertEquals((byte) 255, PageChange.IMPLICIT_VISIBILITY_MAP.toByte());
        assertEquals((byte) 254, PageChange.SLRU_PAGE.toByte());
        for (int id = 0; id <= 32; id++) {
            assertEquals((byte) id, new PageChange.RegisteredBlock(id).toByte());
        }
    }

    @Test
    void everyChangeReadsBackAsItself() {
        assertSame(PageChange.IMPLICIT_VISIBILITY_MAP, PageChange.fromByte((byte) 255));
        assertSame(PageChange.SLRU_PAGE, PageChange.fromByte((byte) 254));
        for (int id = 0; id <= 32; id++) {
            assertEquals(new PageChange.RegisteredBlock(id), PageChange.fromByte((byte) id));
        }
    }

    @Test
    void aByteNoVersionWroteIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> PageChange.fromByte((byte) 33));
        assertThrows(IllegalArgumentException.class, () -> PageChange.fromByte((byte) 253));
        assertThrows(IllegalArgumentException.class, () -> new PageChange.RegisteredBlock(-1));
    }
}
