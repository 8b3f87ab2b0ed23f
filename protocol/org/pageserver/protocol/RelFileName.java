package org.pageserver.protocol;

/**
 * A relation segment file's path inside a data directory, as relpath.c builds it:
 * {@code global/<relfilenode>[_fork][.segno]}, {@code base/<db>/<relfilenode>[_fork][.segno]}
 * or {@code pg_tblspc/<spc>/PG_15_<catversion>/<db>/<relfilenode>[_fork][.segno]}.
 * Each segment holds RELSEG_SIZE (131072) blocks.
 */
public record RelFileName(RelTag rel, int segno) {

    public static final int RELSEG_SIZE = 131072;
    public static final int BLCKSZ = 8192;

    /** The file as a relation segment, or null when the path is not a relation file (PG_VERSION, pg_filenode.map...). */
    public static RelFileName parse(String path) {
        String[] parts = path.split("/");
        int spc;
        int db;
        String file;
        if (parts.length == 2 && parts[0].equals("global")) {
            spc = RelTag.GLOBALTABLESPACE_OID;
            db = 0;
            file = parts[1];
        } else if (parts.length == 3 && parts[0].equals("base")) {
            spc = RelTag.DEFAULTTABLESPACE_OID;
            Integer d = oid(parts[1]);
            if (d == null) {
                return null;
            }
            db = d;
            file = parts[2];
        } else if (parts.length == 5 && parts[0].equals("pg_tblspc") && parts[2].startsWith("PG_")) {
            Integer s = oid(parts[1]);
            Integer d = oid(parts[3]);
            if (s == null || d == null) {
                return null;
            }
            spc = s;
            db = d;
            file = parts[4];
        } else {
            return null;
        }
        int segno = 0;
        int dot = file.indexOf('.');
        if (dot >= 0) {
            Integer s = oid(file.substring(dot + 1));
            if (s == null) {
                return null;
            }
            segno = s;
            file = file.substring(0, dot);
        }
        ForkNumber fork = ForkNumber.MAIN;
        int us = file.indexOf('_');
        if (us >= 0) {
            try {
                fork = ForkNumber.ofSuffix(file.substring(us));
            } catch (IllegalArgumentException e) {
                return null;
            }
            file = file.substring(0, us);
        }
        Integer rel = oid(file);
        if (rel == null || rel == 0) {
            return null;
        }
        return new RelFileName(new RelTag(spc, db, rel, fork), segno);
    }

    /** First block number held by this segment. */
    public long firstBlock() {
        return (long) segno * RELSEG_SIZE;
    }

    private static Integer oid(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return null;
            }
        }
        long v = Long.parseLong(s);
        return v > 0xFFFFFFFFL ? null : (int) v;
    }
}
