package org.pageserver.protocol.tar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streaming tar reader on archives GNU tar makes (ustar and its base-256 sizes). */
class TarReaderTest {
    @TempDir
    Path tmp;

    static final class Collect implements TarReader.Listener {
        final List<String> events = new ArrayList<>();
        ByteArrayOutputStream current;

        @Override
        public void entryStart(TarReader.Entry e) {
            events.add("start " + e.name() + " " + e.type() + " " + e.size());
            current = new ByteArrayOutputStream();
        }

        @Override
        public void entryData(byte[] buf, int off, int len) {
            current.write(buf, off, len);
        }

        @Override
        public void entryEnd(TarReader.Entry e) {
            events.add("end " + e.name() + " " + current.size() + " " + current.toString().hashCode());
        }
    }

    byte[] gnuTar() throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("base/1"));
        Files.writeString(src.resolve("PG_VERSION"), "15\n");
        byte[] big = new byte[70000];
        new Random(1).nextBytes(big);
        Files.write(src.resolve("base/1/1259"), big);
        Files.write(src.resolve("base/1/empty"), new byte[0]);
        String longName = "a".repeat(90) + "/" + "b".repeat(60);
        Files.createDirectories(src.resolve(longName).getParent());
        Files.writeString(src.resolve(longName), "long path");
        Path out = tmp.resolve("a.tar");
        Process p = new ProcessBuilder("tar", "--format=ustar", "-cf", out.toString(), "-C", src.toString(),
            "PG_VERSION", "base", "a".repeat(90)).redirectErrorStream(true).start();
        String msg = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, msg);
        return Files.readAllBytes(out);
    }

    @Test
    void readsWhatGnuTarWritesInAnyChunking() throws Exception {
        byte[] tar = gnuTar();
        Collect whole = new Collect();
        TarReader r = new TarReader(whole);
        r.feed(tar, 0, tar.length);
        r.finish();
        assertTrue(r.ended());
        assertTrue(whole.events.contains("start PG_VERSION 0 3"), whole.events.toString());
        assertTrue(whole.events.contains("start base/1 5 0"), whole.events.toString());
        assertTrue(whole.events.contains("start base/1/1259 0 70000"), whole.events.toString());
        assertTrue(whole.events.stream().anyMatch(e -> e.startsWith("end " + "a".repeat(90) + "/" + "b".repeat(60) + " 9")),
            whole.events.toString());
        Random rnd = new Random(5);
        Collect pieces = new Collect();
        TarReader r2 = new TarReader(pieces);
        for (int off = 0; off < tar.length; ) {
            int n = Math.min(1 + rnd.nextInt(1500), tar.length - off);
            r2.feed(tar, off, n);
            off += n;
        }
        r2.finish();
        assertEquals(whole.events, pieces.events);
    }

    @Test
    void garbageAndTruncationAreClearErrors() throws Exception {
        byte[] tar = gnuTar();
        byte[] bad = tar.clone();
        bad[10] ^= 0x20; // a name byte: checksum no longer matches
        TarException e = assertThrows(TarException.class, () -> new TarReader(new Collect()).feed(bad, 0, bad.length));
        assertTrue(e.getMessage().contains("checksum") && e.getMessage().contains("at byte 0"), e.getMessage());
        TarReader cut = new TarReader(new Collect());
        cut.feed(tar, 0, 2000);
        assertThrows(TarException.class, cut::finish);
        Random rnd = new Random(9);
        for (int i = 0; i < 200; i++) {
            byte[] g = new byte[512 * (1 + rnd.nextInt(4))];
            rnd.nextBytes(g);
            try {
                new TarReader(new Collect()).feed(g, 0, g.length);
            } catch (TarException expected) {
                // the only failure allowed
            }
        }
    }
}
