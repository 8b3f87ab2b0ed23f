package org.pageserver.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** pageserver.faults: what arms which point at which hit, and the errors of a bad spec. */
class FaultsTest {
    @Test
    void aSpecArmsItsPointsAtTheirHits() {
        AtomicInteger[] armed = Faults.parse("before-store:crash, retention:crash@7");
        assertEquals(1, armed[Faults.Point.BEFORE_STORE.ordinal()].get());
        assertEquals(7, armed[Faults.Point.RETENTION.ordinal()].get());
        assertNull(armed[Faults.Point.MID_FLUSH.ordinal()]);
        assertNull(armed[Faults.Point.IMAGE.ordinal()]);
    }

    @Test
    void nothingIsArmedByDefault() {
        for (AtomicInteger a : Faults.parse("")) {
            assertNull(a);
        }
    }

    @Test
    void aBadSpecSaysWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Faults.parse("flush:crash")).getMessage()
            .startsWith("pageserver.faults: no fault point \"flush\" (points: [before-store, mid-flush, image, retention])"));
        assertEquals("pageserver.faults: \"image:stall\" is not <point>:crash or <point>:crash@<n>",
            assertThrows(IllegalArgumentException.class, () -> Faults.parse("image:stall")).getMessage());
        assertEquals("pageserver.faults: \"image:crash@0\": the hit must be a whole number, 1 or more",
            assertThrows(IllegalArgumentException.class, () -> Faults.parse("image:crash@0")).getMessage());
    }
}
