package org.pageserver.protocol.wal;

import java.nio.charset.StandardCharsets;
import org.pageserver.protocol.Lsn;

/**
 * The history file of a timeline forked from its parent, {@code pg_wal/<TLI>.history}, as
 * writeTimeLineHistory (timeline.c) writes it at a promotion: one line
 * {@code "<parentTLI>\t<switchpoint X/X>\t<reason>\n"}, the switchpoint being where the parent
 * timeline ends for this one (its first byte of WAL on the new timeline). PostgreSQL copies the
 * parent's own history file in front of that line when the parent has one; the pageserver keeps
 * no history files of its primary, so a timeline forked from a primary on timeline N > 1 lists
 * its parent N but not N's ancestors (enough to start: readTimeLineHistory needs the timeline
 * of the checkpoint and where it begins).
 *
 * @param timeline       the new timeline (TLHistoryFileName's TLI)
 * @param parentTimeline the timeline it forks from, below it
 * @param switchpoint    where the parent timeline ends and this one begins
 * @param reason         free text after the switchpoint (PostgreSQL writes the recovery target reached)
 */
public record TimeLineHistory(int timeline, int parentTimeline, Lsn switchpoint, String reason) {
    public TimeLineHistory {
        if (Integer.compareUnsigned(parentTimeline, 1) < 0 || Integer.compareUnsigned(timeline, parentTimeline) <= 0) {
            throw new IllegalArgumentException("timeline " + Integer.toUnsignedString(timeline)
                + " cannot fork from timeline " + Integer.toUnsignedString(parentTimeline));
        }
        if (reason.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a timeline history reason is one line: " + reason);
        }
    }

    /** The file's name in pg_wal (TLHistoryFileName: the TLI in 8 hexadecimal digits). */
    public String fileName() {
        return String.format("%08X.history", timeline);
    }

    /** The file's content: the line for the switch from the parent. */
    public String content() {
        return Integer.toUnsignedString(parentTimeline) + "\t" + switchpoint + "\t" + reason + "\n";
    }

    public byte[] bytes() {
        return content().getBytes(StandardCharsets.UTF_8);
    }
}
