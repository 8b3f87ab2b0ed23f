package org.pageserver.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.control.ControlFile.CheckPoint;

/** Which SLRU segment files a server started at a checkpoint reads. */
class SlruSegmentsTest {
    static CheckPoint cp(int oldestXid, long nextXid, int oldestMulti, int nextMulti, int nextOffset) {
        return new CheckPoint(Lsn.INVALID, 1, 1, true, nextXid, 1, nextMulti, nextOffset, oldestXid, 1, oldestMulti, 1,
            0, 0, 0, 0);
    }

    static List<SlruSegments.Segment> of(CheckPoint cp, SlruKind... existing) {
        List<SlruKind> kinds = List.of(existing);
        return SlruSegments.of(cp, k -> kinds.contains(k) ? OptionalInt.of(1) : OptionalInt.empty(),
            (k, p) -> new byte[8192]);
    }

    @Test
    void aYoungClusterHasOnePartialSegmentEach() {
        List<SlruSegments.Segment> s = of(cp(3, 40_000, 1, 5, 10), SlruKind.XACT, SlruKind.MULTIXACT_OFFSETS,
            SlruKind.MULTIXACT_MEMBERS);
        assertEquals(List.of(new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0000", 0, 2),
            new SlruSegments.Segment(SlruKind.MULTIXACT_OFFSETS, "pg_multixact/offsets/0000", 0, 1),
            new SlruSegments.Segment(SlruKind.MULTIXACT_MEMBERS, "pg_multixact/members/0000", 0, 1)), s);
    }

    @Test
    void fromTheOldestXidsSegmentToTheNextXidsPage() {
        // oldestXid on page 40 (segment 1), nextXid on page 100 (segment 3, its 5th page)
        List<SlruSegments.Segment> s = of(cp(40 * 32768 + 5, 100L * 32768 + 7, 1, 1, 0), SlruKind.XACT);
        assertEquals(List.of(new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0001", 32, 32),
            new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0002", 64, 32),
            new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0003", 96, 5)), s);
    }

    @Test
    void xidsWrapAround() {
        // oldestXid in the last clog segment (page 131071), nextXid back on page 1
        List<SlruSegments.Segment> s = of(cp(-100, (1L << 32) | 40_000, 1, 1, 0), SlruKind.XACT);
        assertEquals(List.of(new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0FFF", 131040, 32),
            new SlruSegments.Segment(SlruKind.XACT, "pg_xact/0000", 0, 2)), s);
    }

    @Test
    void membersStartAtTheOldestMultisOffsetAndCommitTsAtTheNextXid() {
        byte[] offsets = new byte[8192];
        java.nio.ByteBuffer.wrap(offsets).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(7 * 4, 1636 * 40);
        List<SlruSegments.Segment> s = SlruSegments.of(cp(3, 1000, 7, 9, 1636 * 40 + 3),
            k -> k == SlruKind.MULTIXACT_MEMBERS || k == SlruKind.COMMIT_TS ? OptionalInt.of(1) : OptionalInt.empty(),
            (k, p) -> offsets);
        assertEquals(List.of(new SlruSegments.Segment(SlruKind.MULTIXACT_MEMBERS, "pg_multixact/members/0001", 32, 9),
            new SlruSegments.Segment(SlruKind.COMMIT_TS, "pg_commit_ts/0000", 0, 2)), s);
    }
}
