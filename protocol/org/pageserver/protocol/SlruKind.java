package org.pageserver.protocol;

/**
 * The SLRUs (simple LRU-buffered files, access/slru.h) whose pages the pageserver keeps: the
 * commit log, the two MultiXact SLRUs and the commit timestamps. Each is served as a
 * pseudo-relation, so GetPage@LSN reads their pages like any relation block:
 *
 * <pre>
 * RelTag(spcNode 0, dbNode 0, relNode = relNode below, fork main), block = SLRU page number
 * page number = segment number * SLRU_PAGES_PER_SEGMENT (32) + page within the segment file
 * </pre>
 *
 * spcNode 0 is InvalidOid, never a real tablespace, so no relation can collide with them.
 * pg_subtrans (rebuilt at every startup, never WAL-logged) and pg_serial and pg_notify (not
 * WAL-logged, discarded at restart) are not kept.
 */
public enum SlruKind {
    /** pg_xact: two status bits per transaction (clog.c). */
    XACT(1, "pg_xact"),
    /** pg_multixact/offsets: a member offset per MultiXactId (multixact.c). */
    MULTIXACT_OFFSETS(2, "pg_multixact/offsets"),
    /** pg_multixact/members: member xids and their lock modes (multixact.c). */
    MULTIXACT_MEMBERS(3, "pg_multixact/members"),
    /** pg_commit_ts: commit timestamp and replication origin per transaction (commit_ts.c). */
    COMMIT_TS(4, "pg_commit_ts");

    /** SLRU_PAGES_PER_SEGMENT (slru.h). */
    public static final int SLRU_PAGES_PER_SEGMENT = 32;

    public final int relNode;
    public final String dir;

    SlruKind(int relNode, String dir) {
        this.relNode = relNode;
        this.dir = dir;
    }

    /** The pseudo-relation this SLRU is served as. */
    public RelTag rel() {
        return new RelTag(0, 0, relNode, ForkNumber.MAIN);
    }

    /** The SLRU a pseudo-relation stands for, or null for a real relation. */
    public static SlruKind fromRel(RelTag rel) {
        if (rel.spcNode() != 0 || rel.dbNode() != 0 || rel.fork() != ForkNumber.MAIN) {
            return null;
        }
        for (SlruKind k : values()) {
            if (k.relNode == rel.relNode()) {
                return k;
            }
        }
        return null;
    }

    /** A segment file of an SLRU in a data directory: which SLRU, and its first page. */
    public record SegmentFile(SlruKind kind, int firstPage) {
    }

    /**
     * Parses a data-directory path such as {@code pg_xact/0000} or
     * {@code pg_multixact/members/001A}: SlruFileName (slru.c, PG15) names segments by their
     * number in upper-case hex, at least four digits. Null for any other path.
     */
    public static SegmentFile parseSegment(String path) {
        for (SlruKind k : values()) {
            if (path.startsWith(k.dir + "/")) {
                String name = path.substring(k.dir.length() + 1);
                if (name.length() < 4 || name.length() > 6 || !name.chars().allMatch(c -> (c >= '0' && c <= '9')
                    || (c >= 'A' && c <= 'F'))) {
                    return null;
                }
                long segno = Long.parseLong(name, 16);
                return new SegmentFile(k, (int) (segno * SLRU_PAGES_PER_SEGMENT));
            }
        }
        return null;
    }
}
