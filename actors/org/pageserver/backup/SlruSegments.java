package org.pageserver.backup;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.redo.SlruRedo;

/**
 * Which SLRU segment files a server started at a CheckPoint reads, and which pages each holds.
 * PostgreSQL reads an SLRU page only from its segment file (a missing file or a short one is an
 * error outside recovery), and at start it reads the page of the next id (TrimCLOG,
 * StartupMultiXact, ActivateCommitTs) and, for MultiXacts, the offsets page of the oldest one
 * (SetOffsetVacuumLimit). So each SLRU gets every page from its oldest live id's page to its
 * next id's page, circularly (ids wrap at 2^32), each segment file written from its own first
 * page:
 * <ul>
 *   <li>pg_xact: oldestXid .. nextXid;</li>
 *   <li>pg_multixact/offsets: oldestMulti .. nextMulti;</li>
 *   <li>pg_multixact/members: the oldest multi's first member offset (read from its offsets
 *       page) .. nextMultiOffset;</li>
 *   <li>pg_commit_ts, when it exists at L: oldestCommitTsXid (or nextXid while none is set:
 *       ActivateCommitTs starts there) .. nextXid.</li>
 * </ul>
 * Pages the pageserver never saw written read as zeros, as in PostgreSQL's own extension of a
 * segment.
 */
final class SlruSegments {
    /** One segment file: its path and its pages, first to last. */
    record Segment(SlruKind kind, String path, int firstPage, int pages) {
    }

    /** How many pages each SLRU's page numbers run through before they wrap (ids are 32 bits). */
    static long pageModulus(SlruKind kind) {
        long perPage = switch (kind) {
            case XACT -> SlruRedo.CLOG_XACTS_PER_PAGE;
            case MULTIXACT_OFFSETS -> SlruRedo.MULTIXACT_OFFSETS_PER_PAGE;
            case MULTIXACT_MEMBERS -> SlruRedo.MULTIXACT_MEMBERS_PER_PAGE;
            case COMMIT_TS -> SlruRedo.COMMIT_TS_XACTS_PER_PAGE;
        };
        return 0xFFFFFFFFL / perPage + 1;
    }

    /** Reads the page of an SLRU as of the backup's LSN. */
    @FunctionalInterface
    interface PageReader {
        byte[] read(SlruKind kind, int pageno);
    }

    private SlruSegments() {
    }

    /**
     * The segments of every SLRU that exists at {@code lsn} ({@code sizeOf}: its pseudo-relation's
     * size then, empty when it does not exist).
     */
    static List<Segment> of(ControlFile.CheckPoint cp, java.util.function.Function<SlruKind, OptionalInt> sizeOf,
                            PageReader pages) {
        List<Segment> out = new ArrayList<>();
        for (SlruKind kind : SlruKind.values()) {
            if (sizeOf.apply(kind).isEmpty()) {
                continue;
            }
            int first;
            int last;
            switch (kind) {
                case XACT -> {
                    first = SlruRedo.clogPage(cp.oldestXid());
                    last = SlruRedo.clogPage(cp.nextXidValue());
                }
                case MULTIXACT_OFFSETS -> {
                    first = SlruRedo.offsetsPage(cp.oldestMulti());
                    last = SlruRedo.offsetsPage(cp.nextMulti());
                }
                case MULTIXACT_MEMBERS -> {
                    int oldestOffset = cp.oldestMulti() == cp.nextMulti() ? cp.nextMultiOffset()
                        : memberOffset(pages.read(SlruKind.MULTIXACT_OFFSETS, SlruRedo.offsetsPage(cp.oldestMulti())),
                            cp.oldestMulti());
                    first = SlruRedo.membersPage(oldestOffset);
                    last = SlruRedo.membersPage(cp.nextMultiOffset());
                }
                default -> {
                    int from = cp.oldestCommitTsXid() != 0 ? cp.oldestCommitTsXid() : cp.nextXidValue();
                    first = SlruRedo.commitTsPage(from);
                    last = SlruRedo.commitTsPage(cp.nextXidValue());
                }
            }
            segments(kind, first, last, out);
        }
        return out;
    }

    /** The first member offset of {@code multi}, from its offsets page. */
    private static int memberOffset(byte[] offsetsPage, int multi) {
        int entry = (int) (Integer.toUnsignedLong(multi) % SlruRedo.MULTIXACT_OFFSETS_PER_PAGE);
        return java.nio.ByteBuffer.wrap(offsetsPage).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(entry * 4);
    }

    private static void segments(SlruKind kind, int first, int last, List<Segment> out) {
        long modulus = pageModulus(kind);
        long perSeg = SlruKind.SLRU_PAGES_PER_SEGMENT;
        long seg = Integer.toUnsignedLong(first) / perSeg;
        long lastSeg = Integer.toUnsignedLong(last) / perSeg;
        long segments = (modulus + perSeg - 1) / perSeg;
        while (true) {
            long segFirst = seg * perSeg;
            long end = seg == lastSeg ? Integer.toUnsignedLong(last) + 1 : Math.min(segFirst + perSeg, modulus);
            out.add(new Segment(kind, kind.dir + "/" + String.format("%04X", seg), (int) segFirst, (int) (end - segFirst)));
            if (seg == lastSeg) {
                return;
            }
            seg = (seg + 1) % segments;
        }
    }
}
