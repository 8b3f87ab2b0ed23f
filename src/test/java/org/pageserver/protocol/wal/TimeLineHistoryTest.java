package org.pageserver.protocol.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

/** The history file a promotion writes (writeTimeLineHistory), for a timeline forked at a segment start. */
class TimeLineHistoryTest {

    @Test
    void oneLineParentSwitchpointReasonAsWriteTimeLineHistoryWritesIt() {
        TimeLineHistory h = new TimeLineHistory(2, 1, Lsn.parse("0/9000000"), "base backup at LSN 0/8F2A3C0");
        assertEquals("00000002.history", h.fileName());
        assertEquals("1\t0/9000000\tbase backup at LSN 0/8F2A3C0\n", h.content());
    }

    @Test
    void theFileNameIsTheTimelineInEightHexDigits() {
        assertEquals("0000001B.history", new TimeLineHistory(27, 26, Lsn.parse("1/0"), "r").fileName());
    }

    @Test
    void aTimelineNotAboveItsParentOrAReasonOfSeveralLinesIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new TimeLineHistory(1, 1, Lsn.parse("0/9000000"), "r"));
        assertThrows(IllegalArgumentException.class, () -> new TimeLineHistory(2, 0, Lsn.parse("0/9000000"), "r"));
        assertThrows(IllegalArgumentException.class, () -> new TimeLineHistory(2, 1, Lsn.parse("0/9000000"), "a\nb"));
    }
}
