package org.pageserver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

/** Waiters come out once the watermark reaches their LSN, in LSN order, each once. */
class LsnWaitersTest {
    @Test
    void releasesUpToTheWatermarkInLsnOrder() {
        LsnWaiters<String> w = new LsnWaiters<>();
        w.park(Lsn.parse("0/300"), "c");
        w.park(Lsn.parse("0/100"), "a");
        w.park(Lsn.parse("0/200"), "b");
        assertEquals(List.of("a", "b"), w.releaseUpTo(Lsn.parse("0/200")).stream().map(LsnWaiters.Waiter::request).toList());
        assertEquals(1, w.size());
        assertEquals(List.of(), w.releaseUpTo(Lsn.parse("0/2FF")));
    }

    @Test
    void aRemovedWaiterIsNotReleasedAndARemovedOneIsNotFoundAgain() {
        LsnWaiters<String> w = new LsnWaiters<>();
        long id = w.park(Lsn.parse("0/100"), "a");
        assertEquals("a", w.remove(id).request());
        assertNull(w.remove(id));
        assertEquals(List.of(), w.releaseUpTo(Lsn.MAX));
        long released = w.park(Lsn.parse("0/100"), "b");
        w.releaseUpTo(Lsn.parse("0/100"));
        assertNull(w.remove(released), "a released waiter's timeout finds nothing");
    }
}
