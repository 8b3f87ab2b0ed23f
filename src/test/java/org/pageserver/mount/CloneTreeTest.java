package org.pageserver.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.RelTag;

/**
 * The upper/lower layering on plain files: a lower "data directory" of relation files whose
 * every block is filled with a byte naming it, an upper directory, and the operations
 * PostgreSQL performs on them.
 */
class CloneTreeTest {
    static final int B = CloneTree.BLCKSZ;
    static final RelTag HEAP = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
    static final RelTag FSM = new RelTag(1663, 5, 16384, ForkNumber.FSM);
    static final RelTag OTHER = new RelTag(1663, 5, 16390, ForkNumber.MAIN);

    @TempDir
    Path tmp;
    Path lowerDir;
    Path upper;
    FilePageSource source;
    LowerLayer lower;

    @BeforeEach
    void lowerFiles() throws Exception {
        lowerDir = tmp.resolve("lower");
        upper = tmp.resolve("upper");
        source = new FilePageSource(lowerDir);
        Map<RelTag, Integer> rels = Map.of(HEAP, 4, FSM, 3, OTHER, 1);
        for (Map.Entry<RelTag, Integer> e : rels.entrySet()) {
            Path f = lowerDir.resolve(e.getKey().path());
            Files.createDirectories(f.getParent());
            byte[] content = new byte[e.getValue() * B];
            for (int b = 0; b < e.getValue(); b++) {
                Arrays.fill(content, b * B, (b + 1) * B, fill(e.getKey(), b));
            }
            Files.write(f, content);
        }
        lower = LowerLayer.of(rels);
    }

    static byte fill(RelTag rel, int block) {
        return (byte) (rel.relNode() % 7 * 16 + rel.fork().number * 4 + block + 1);
    }

    static byte[] page(byte v) {
        byte[] p = new byte[B];
        Arrays.fill(p, v);
        return p;
    }

    CloneTree tree() throws Exception {
        return new CloneTree(upper, lower, source);
    }

    static byte[] read(CloneTree t, String path, long off, int len) throws Exception {
        byte[] b = new byte[len];
        int n = t.read(path, off, b, len);
        return Arrays.copyOf(b, n);
    }

    static byte[] readAll(CloneTree t, String path) throws Exception {
        return read(t, path, 0, (int) t.attributes(path).size());
    }

    @Test
    void lowerFilesReadAsTheirBlocksWithTheirSizes() throws Exception {
        try (CloneTree t = tree()) {
            assertEquals(4L * B, t.attributes("/base/5/16384").size());
            assertEquals(3L * B, t.attributes("/base/5/16384_fsm").size());
            assertArrayEquals(Files.readAllBytes(lowerDir.resolve("base/5/16384")), readAll(t, "/base/5/16384"));
            assertArrayEquals(page(fill(HEAP, 2)), read(t, "/base/5/16384", 2L * B, B));
            assertEquals(List.of("16384", "16384_fsm", "16390"), t.list("/base/5"));
            assertEquals(List.of("base"), t.list("/"));
            assertEquals(0, read(t, "/base/5/16384", 4L * B, B).length, "past the end");
        }
    }

    @Test
    void aWriteCopiesOnlyItsBlockUp() throws Exception {
        try (CloneTree t = tree()) {
            t.write("/base/5/16384", 1L * B, page((byte) 0x77), B);
            assertArrayEquals(page((byte) 0x77), read(t, "/base/5/16384", B, B));
            assertArrayEquals(page(fill(HEAP, 0)), read(t, "/base/5/16384", 0, B));
            assertArrayEquals(page(fill(HEAP, 3)), read(t, "/base/5/16384", 3L * B, B));
            assertEquals(4L * B, t.attributes("/base/5/16384").size());
        }
        assertArrayEquals(page(fill(HEAP, 1)), Arrays.copyOfRange(Files.readAllBytes(lowerDir.resolve("base/5/16384")),
            B, 2 * B), "the lower layer is never written");
        assertTrue(Files.size(upper.resolve("data/base/5/16384")) == 4L * B);
    }

    @Test
    void aPartialWriteKeepsTheRestOfTheLowerBlock() throws Exception {
        try (CloneTree t = tree()) {
            t.write("/base/5/16384", 2L * B + 100, new byte[] {1, 2, 3}, 3);
            byte[] expected = page(fill(HEAP, 2));
            expected[100] = 1;
            expected[101] = 2;
            expected[102] = 3;
            assertArrayEquals(expected, read(t, "/base/5/16384", 2L * B, B));
        }
    }

    @Test
    void extensionAppendsAfterTheLowerBlocks() throws Exception {
        try (CloneTree t = tree()) {
            t.write("/base/5/16384", 4L * B, page((byte) 9), B);
            assertEquals(5L * B, t.attributes("/base/5/16384").size());
            assertArrayEquals(page(fill(HEAP, 3)), read(t, "/base/5/16384", 3L * B, B));
            assertArrayEquals(page((byte) 9), read(t, "/base/5/16384", 4L * B, B));
        }
    }

    @Test
    void truncatedBlocksNeverComeBackFromBelow() throws Exception {
        try (CloneTree t = tree()) {
            t.truncate("/base/5/16384", 2L * B);
            assertEquals(2L * B, t.attributes("/base/5/16384").size());
            t.write("/base/5/16384", 3L * B, page((byte) 5), B);
            assertArrayEquals(page(fill(HEAP, 1)), read(t, "/base/5/16384", B, B));
            assertArrayEquals(new byte[B], read(t, "/base/5/16384", 2L * B, B), "a hole, not the old lower block");
            assertArrayEquals(page((byte) 5), read(t, "/base/5/16384", 3L * B, B));
        }
    }

    @Test
    void truncationInsideABlockKeepsItsHead() throws Exception {
        try (CloneTree t = tree()) {
            t.truncate("/base/5/16384_fsm", B + 10);
            t.truncate("/base/5/16384_fsm", 2L * B);
            byte[] expected = new byte[B];
            Arrays.fill(expected, 0, 10, fill(FSM, 1));
            assertArrayEquals(expected, read(t, "/base/5/16384_fsm", B, B));
        }
    }

    @Test
    void truncationToZeroLeavesAPlainUpperFile() throws Exception {
        try (CloneTree t = tree()) {
            t.truncate("/base/5/16384", 0);
            assertEquals(0, t.attributes("/base/5/16384").size());
            assertFalse(Files.exists(upper.resolve("cow/base/5/16384")));
        }
    }

    @Test
    void unlinkWhitesOutTheLowerFile() throws Exception {
        try (CloneTree t = tree()) {
            t.unlink("/base/5/16390");
            assertEquals(FsException.ENOENT, assertThrows(FsException.class, () -> t.attributes("/base/5/16390")).errno());
            assertEquals(List.of("16384", "16384_fsm"), t.list("/base/5"));
            t.create("/base/5/16390");
            assertEquals(0, t.attributes("/base/5/16390").size(), "a new file, not the old one");
            t.unlink("/base/5/16390");
            assertThrows(FsException.class, () -> t.attributes("/base/5/16390"));
        }
    }

    @Test
    void createRefusesAPathTheLowerLayerHas() throws Exception {
        try (CloneTree t = tree()) {
            assertEquals(FsException.EEXIST, assertThrows(FsException.class, () -> t.create("/base/5/16384")).errno());
        }
    }

    @Test
    void renameMovesTheWholeFileAndWhitesOutItsOldName() throws Exception {
        try (CloneTree t = tree()) {
            t.write("/base/5/16384", 0, page((byte) 0x33), B);
            t.rename("/base/5/16384", "/base/5/16400");
            byte[] expected = Files.readAllBytes(lowerDir.resolve("base/5/16384"));
            Arrays.fill(expected, 0, B, (byte) 0x33);
            assertArrayEquals(expected, readAll(t, "/base/5/16400"));
            assertThrows(FsException.class, () -> t.attributes("/base/5/16384"));
            t.create("/x.tmp");
            t.write("/x.tmp", 0, new byte[] {1}, 1);
            t.rename("/x.tmp", "/base/5/16390");
            assertArrayEquals(new byte[] {1}, readAll(t, "/base/5/16390"), "over a lower file");
        }
    }

    @Test
    void directoriesOfBothLayers() throws Exception {
        try (CloneTree t = tree()) {
            t.mkdir("/base/6");
            t.create("/base/6/PG_VERSION");
            assertEquals(List.of("5", "6"), t.list("/base"));
            assertEquals(FsException.ENOTEMPTY, assertThrows(FsException.class, () -> t.rmdir("/base/5")).errno());
            for (String f : t.list("/base/5")) {
                t.unlink("/base/5/" + f);
            }
            t.rmdir("/base/5");
            assertEquals(List.of("6"), t.list("/base"));
        }
    }

    @Test
    void aSecondTreeOnTheSameUpperDirectoryResumes() throws Exception {
        try (CloneTree t = tree()) {
            t.write("/base/5/16384", B, page((byte) 0x44), B);
            t.truncate("/base/5/16384_fsm", B);
            t.unlink("/base/5/16390");
            t.create("/base/5/99999");
            t.write("/base/5/99999", 0, page((byte) 1), B);
            t.fsync("/base/5/16384");
        }
        try (CloneTree t = tree()) {
            assertArrayEquals(page((byte) 0x44), read(t, "/base/5/16384", B, B));
            assertArrayEquals(page(fill(HEAP, 2)), read(t, "/base/5/16384", 2L * B, B));
            assertEquals(B, t.attributes("/base/5/16384_fsm").size());
            assertEquals(List.of("16384", "16384_fsm", "99999"), t.list("/base/5"));
            assertArrayEquals(page((byte) 1), readAll(t, "/base/5/99999"));
        }
    }

    @Test
    void unloggedRelationsShowTheirInitForkAsMain() {
        RelTag init = new RelTag(1663, 5, 20000, ForkNumber.INIT);
        LowerLayer l = LowerLayer.of(Map.of(init, 1, init.withFork(ForkNumber.MAIN), 7,
            init.withFork(ForkNumber.FSM), 3));
        assertEquals(init, l.file("base/5/20000").source());
        assertEquals(1, l.file("base/5/20000").nblocks());
        assertEquals(null, l.file("base/5/20000_fsm"));
    }

    @Test
    void forksPastOneGigabyteAreSegmented() {
        LowerLayer l = LowerLayer.of(Map.of(HEAP, 131072 + 5));
        assertEquals(131072, l.file("base/5/16384").nblocks());
        assertEquals(131072, l.file("base/5/16384.1").firstBlock());
        assertEquals(5, l.file("base/5/16384.1").nblocks());
        assertEquals(null, l.file("base/5/16384.2"));
    }
}
