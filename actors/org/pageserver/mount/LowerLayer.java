package org.pageserver.mount;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.RelTag;

/**
 * The read-only lower layer of a clone: the relation segment files of the data directory as of
 * the clone's LSN, named as relpath.c names them, each a run of blocks of one relation fork
 * served by GetPage@LSN. Built once at mount from the {@code relations} listing (the
 * pagestream protocol cannot list relations, and the minimal base backup holds none); it never
 * changes afterwards, since the clone's LSN is fixed. Everything the compute changes is the
 * upper layer's business ({@link CloneTree}).
 *
 * <p>Unlogged relations appear as a base backup gives them (and as ResetUnloggedRelations
 * would leave them, which PostgreSQL does not run after a clean shutdown): the init fork, and a
 * main fork that reads the init fork's blocks; their other forks are left out.
 */
public final class LowerLayer {
    /** A segment file: blocks {@code firstBlock .. firstBlock + nblocks - 1} of {@code source}. */
    public record Segment(RelTag source, long firstBlock, int nblocks) {
        public long size() {
            return (long) nblocks * RelFileName.BLCKSZ;
        }
    }

    private final Map<String, Segment> files;
    private final Map<String, Set<String>> directories;

    private LowerLayer(Map<String, Segment> files, Map<String, Set<String>> directories) {
        this.files = files;
        this.directories = directories;
    }

    /** From every relation fork as of the LSN with its size in blocks (SLRU pseudo-relations excluded). */
    public static LowerLayer of(Map<RelTag, Integer> relations) {
        Set<RelTag> unlogged = new HashSet<>();
        for (RelTag r : relations.keySet()) {
            if (r.fork() == ForkNumber.INIT) {
                unlogged.add(r.withFork(ForkNumber.MAIN));
            }
        }
        Map<String, Segment> files = new HashMap<>();
        Map<String, Set<String>> dirs = new HashMap<>();
        dirs.put("", new TreeSet<>());
        for (Map.Entry<RelTag, Integer> e : new TreeMap<>(relations).entrySet()) {
            RelTag rel = e.getKey();
            if (rel.spcNode() == 0) {
                continue;
            }
            boolean isUnlogged = unlogged.contains(rel.withFork(ForkNumber.MAIN));
            if (isUnlogged && rel.fork() != ForkNumber.INIT) {
                continue;
            }
            long n = Integer.toUnsignedLong(e.getValue());
            addSegments(files, dirs, rel, rel, n);
            if (isUnlogged) {
                addSegments(files, dirs, rel, rel.withFork(ForkNumber.MAIN), n);
            }
        }
        Map<String, Set<String>> frozen = new HashMap<>();
        dirs.forEach((k, v) -> frozen.put(k, Collections.unmodifiableSet(v)));
        return new LowerLayer(Map.copyOf(files), frozen);
    }

    /** Segments as md.c lays them out: 1 GB each, segment 0 present even for an empty fork. */
    private static void addSegments(Map<String, Segment> files, Map<String, Set<String>> dirs, RelTag source,
                                    RelTag as, long nblocks) {
        long segments = Math.max(1, (nblocks + RelFileName.RELSEG_SIZE - 1) / RelFileName.RELSEG_SIZE);
        for (long seg = 0; seg < segments; seg++) {
            long first = seg * RelFileName.RELSEG_SIZE;
            int count = (int) Math.min(RelFileName.RELSEG_SIZE, nblocks - first);
            String path = as.path() + (seg == 0 ? "" : "." + seg);
            files.put(path, new Segment(source, first, count));
            addParents(dirs, path);
        }
    }

    private static void addParents(Map<String, Set<String>> dirs, String path) {
        String child = path;
        while (true) {
            int slash = child.lastIndexOf('/');
            String parent = slash < 0 ? "" : child.substring(0, slash);
            String name = child.substring(slash + 1);
            boolean isNew = !dirs.containsKey(parent);
            dirs.computeIfAbsent(parent, k -> new TreeSet<>()).add(name);
            if (parent.isEmpty() || !isNew) {
                return;
            }
            child = parent;
        }
    }

    /** The segment file at {@code path} (relative, no leading slash), or null. */
    public Segment file(String path) {
        return files.get(path);
    }

    public boolean isDirectory(String path) {
        return directories.containsKey(path);
    }

    /** The names in directory {@code path}, or an empty list when it is not a lower directory. */
    public java.util.List<String> list(String path) {
        Set<String> s = directories.get(path);
        return s == null ? java.util.List.of() : new ArrayList<>(s);
    }

    public int fileCount() {
        return files.size();
    }

    /** The sum of the sizes of all segment files, in bytes. */
    public long totalBytes() {
        long sum = 0;
        for (Segment s : files.values()) {
            sum += s.size();
        }
        return sum;
    }
}
