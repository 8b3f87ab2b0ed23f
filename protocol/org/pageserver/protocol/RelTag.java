package org.pageserver.protocol;

/**
 * A relation fork: RelFileNode (spcNode, dbNode, relNode; storage/relfilenode.h) plus fork.
 * The oids are unsigned 32-bit values held in ints.
 */
public record RelTag(int spcNode, int dbNode, int relNode, ForkNumber fork) implements Comparable<RelTag> {

    /** pg_global tablespace; its relations have dbNode 0. */
    public static final int GLOBALTABLESPACE_OID = 1664;
    /** pg_default tablespace. */
    public static final int DEFAULTTABLESPACE_OID = 1663;

    public RelTag {
        if (fork == null) {
            throw new IllegalArgumentException("fork is null");
        }
    }

    public RelTag withFork(ForkNumber f) {
        return new RelTag(spcNode, dbNode, relNode, f);
    }

    /** Path of the relation's first segment file inside a data directory (relpathperm). */
    public String path() {
        String base;
        if (spcNode == GLOBALTABLESPACE_OID) {
            base = "global/" + Integer.toUnsignedString(relNode);
        } else if (spcNode == DEFAULTTABLESPACE_OID) {
            base = "base/" + Integer.toUnsignedString(dbNode) + "/" + Integer.toUnsignedString(relNode);
        } else {
            base = "pg_tblspc/" + Integer.toUnsignedString(spcNode) + "/PG_15_202209061/"
                + Integer.toUnsignedString(dbNode) + "/" + Integer.toUnsignedString(relNode);
        }
        return base + fork.suffix;
    }

    @Override
    public int compareTo(RelTag o) {
        int c = Integer.compareUnsigned(spcNode, o.spcNode);
        if (c != 0) return c;
        c = Integer.compareUnsigned(dbNode, o.dbNode);
        if (c != 0) return c;
        c = Integer.compareUnsigned(relNode, o.relNode);
        if (c != 0) return c;
        return Integer.compare(fork.number, o.fork.number);
    }

    @Override
    public String toString() {
        return Integer.toUnsignedString(spcNode) + "/" + Integer.toUnsignedString(dbNode) + "/"
            + Integer.toUnsignedString(relNode) + (fork == ForkNumber.MAIN ? "" : fork.suffix);
    }
}
