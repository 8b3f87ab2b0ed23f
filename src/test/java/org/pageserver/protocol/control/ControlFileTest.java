package org.pageserver.protocol.control;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

/** pg_control against pg_controldata of the same real PG15 cluster (fixture README). */
class ControlFileTest {
    static byte[] file;
    static Map<String, String> expected = new HashMap<>();

    @BeforeAll
    static void load() throws IOException {
        file = ControlFileTest.class.getResourceAsStream("/control/pg_control").readAllBytes();
        String text = new String(ControlFileTest.class.getResourceAsStream("/control/pg_controldata.txt").readAllBytes(),
            StandardCharsets.UTF_8);
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            expected.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
        }
    }

    @Test
    void fieldsMatchPgControldata() {
        ControlFile c = ControlFile.parse(file);
        assertEquals(expected.get("Database system identifier"), Long.toUnsignedString(c.systemIdentifier()));
        assertEquals(expected.get("pg_control version number"), String.valueOf(c.pgControlVersion()));
        assertEquals(expected.get("Catalog version number"), String.valueOf(c.catalogVersionNo()));
        assertEquals(expected.get("Database cluster state"), c.state().text);
        assertEquals(Lsn.parse(expected.get("Latest checkpoint location")), c.checkPoint());
        ControlFile.CheckPoint cp = c.checkPointCopy();
        assertEquals(Lsn.parse(expected.get("Latest checkpoint's REDO location")), cp.redo());
        assertEquals(expected.get("Latest checkpoint's TimeLineID"), String.valueOf(cp.thisTimeLineId()));
        assertEquals(expected.get("Latest checkpoint's PrevTimeLineID"), String.valueOf(cp.prevTimeLineId()));
        assertEquals(expected.get("Latest checkpoint's full_page_writes"), cp.fullPageWrites() ? "on" : "off");
        assertEquals(expected.get("Latest checkpoint's NextXID"), (cp.nextXid() >>> 32) + ":" + (cp.nextXid() & 0xFFFFFFFFL));
        assertEquals(expected.get("Latest checkpoint's NextOID"), String.valueOf(cp.nextOid()));
        assertEquals(expected.get("Latest checkpoint's NextMultiXactId"), String.valueOf(cp.nextMulti()));
        assertEquals(expected.get("Latest checkpoint's NextMultiOffset"), String.valueOf(cp.nextMultiOffset()));
        assertEquals(expected.get("Latest checkpoint's oldestXID"), String.valueOf(cp.oldestXid()));
        assertEquals(expected.get("Latest checkpoint's oldestXID's DB"), String.valueOf(cp.oldestXidDb()));
        assertEquals(expected.get("Latest checkpoint's oldestActiveXID"), String.valueOf(cp.oldestActiveXid()));
        assertEquals(expected.get("Latest checkpoint's oldestMultiXid"), String.valueOf(cp.oldestMulti()));
        assertEquals(expected.get("Minimum recovery ending location"), c.minRecoveryPoint().toString());
        assertEquals(expected.get("Database block size"), String.valueOf(c.blcksz()));
        assertEquals(expected.get("Bytes per WAL segment"), String.valueOf(c.xlogSegSize()));
        assertEquals(expected.get("Data page checksum version"), String.valueOf(c.dataChecksumVersion()));
        assertEquals("replica", expected.get("wal_level setting"));
        assertEquals(1, c.walLevel());
    }

    @Test
    void writeReproducesTheFileAndPatchesKeepTheCrcRight() {
        ControlFile c = ControlFile.parse(file);
        assertArrayEquals(file, c.write());
        ControlFile patched = c.withState(ControlFile.DbState.SHUTDOWNED).withMinRecoveryPoint(Lsn.parse("1/2"), 1);
        ControlFile again = ControlFile.parse(patched.write());
        assertEquals(ControlFile.DbState.SHUTDOWNED, again.state());
        assertEquals(Lsn.parse("1/2"), again.minRecoveryPoint());
        assertEquals(c.systemIdentifier(), again.systemIdentifier());
    }

    @Test
    void garbageIsRefusedClearly() {
        assertTrue(assertThrows(ControlFileException.class, () -> ControlFile.parse(new byte[100])).getMessage()
            .contains("too short"));
        byte[] bad = file.clone();
        bad[50] ^= 1;
        assertTrue(assertThrows(ControlFileException.class, () -> ControlFile.parse(bad)).getMessage().contains("checksum"));
        byte[] version = file.clone();
        version[8] = 0x13;
        assertTrue(assertThrows(ControlFileException.class, () -> ControlFile.parse(version)).getMessage()
            .contains("version"));
        Random rnd = new Random(3);
        for (int i = 0; i < 200; i++) {
            byte[] g = new byte[rnd.nextInt(9000)];
            rnd.nextBytes(g);
            assertThrows(ControlFileException.class, () -> ControlFile.parse(g));
        }
    }
}
