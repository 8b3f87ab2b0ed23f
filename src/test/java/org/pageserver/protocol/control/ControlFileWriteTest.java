package org.pageserver.protocol.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;

/** Writing pg_control: field setters round-trip, and pg_controldata's own lines, from the fixture and from the real tool. */
class ControlFileWriteTest {
    @TempDir
    Path tmp;

    static ControlFile fixture() throws IOException {
        return ControlFile.parse(ControlFileWriteTest.class.getResourceAsStream("/control/pg_control").readAllBytes());
    }

    static List<String> lines(ControlFile c) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> e : c.controlData(ZoneOffset.UTC)) {
            // pg_controldata pads every label (colon included) to 38 columns
            out.add(String.format("%-38s%s", e.getKey() + ":", e.getValue()));
        }
        return out;
    }

    @Test
    void controlDataIsWhatPgControldataPrintedForTheFixture() throws IOException {
        String text = new String(getClass().getResourceAsStream("/control/pg_controldata.txt").readAllBytes(),
            StandardCharsets.UTF_8);
        assertEquals(List.of(text.split("\n")), lines(fixture()));
    }

    static ControlFile shutdown(ControlFile c) {
        ControlFile.CheckPoint cp = new ControlFile.CheckPoint(Lsn.parse("1/23400028"), 1, 1, true, (2L << 32) | 99_000,
            40_000, 17, 300, 716, 1, 3, 5, 1_800_000_123L, 0, 0, 0);
        return c.withState(ControlFile.DbState.SHUTDOWNED).withCheckPoint(Lsn.parse("1/23400028"), cp)
            .withTime(1_800_000_456L).withUnloggedLsn(Lsn.parse("0/3E8")).withoutBackupPoints()
            .withMinRecoveryPoint(Lsn.INVALID, 0)
            .withParameters(new ControlFile.Parameters(77, 9, 11, 5, 128, 2, true, true));
    }

    @Test
    void settersRoundTrip() throws IOException {
        ControlFile c = ControlFile.parse(shutdown(fixture()).write());
        assertEquals(ControlFile.DbState.SHUTDOWNED, c.state());
        assertEquals(Lsn.parse("1/23400028"), c.checkPoint());
        assertEquals(40_000, c.checkPointCopy().nextOid());
        assertEquals(99_000, c.checkPointCopy().nextXidValue());
        assertEquals(2, c.checkPointCopy().nextXidEpoch());
        assertEquals(new ControlFile.Parameters(77, 9, 11, 5, 128, 2, true, true), c.parameters());
        assertEquals(1_800_000_456L, c.time());
        assertEquals(fixture().systemIdentifier(), c.systemIdentifier());
        ControlFile.CheckPoint cp = c.checkPointCopy();
        assertEquals(cp, ControlFile.CheckPoint.parse(cp.toBytes()));
    }

    @Test
    void theRealPgControldataReadsAWrittenFileAsControlDataSays() throws IOException, InterruptedException {
        ControlFile c = shutdown(fixture());
        Files.createDirectories(tmp.resolve("global"));
        Files.write(tmp.resolve("global/pg_control"), c.write());
        ProcessBuilder pb = new ProcessBuilder("/usr/lib/postgresql/15/bin/pg_controldata", "-D", tmp.toString());
        pb.environment().put("TZ", "UTC");
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        assertEquals(0, p.exitValue(), out);
        assertEquals(List.of(out.split("\n")), lines(c));
    }

    @Test
    void aShortCheckPointIsRefused() {
        assertThrows(ControlFileException.class, () -> ControlFile.CheckPoint.parse(new byte[87]));
        assertThrows(ControlFileException.class, () -> ControlFile.CheckPoint.parse(null));
        Random rnd = new Random(5);
        byte[] g = new byte[88];
        rnd.nextBytes(g);
        assertEquals(ControlFile.CheckPoint.parse(g), ControlFile.CheckPoint.parse(ControlFile.CheckPoint.parse(g).toBytes()));
    }
}
