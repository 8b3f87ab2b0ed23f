package org.pageserver.redo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;

/**
 * WAL captured from a real PostgreSQL 15 by a fixture directory's make-fixture.sh (with
 * src/test/resources/redo/fixture-cluster.sh): wal.gz (the segments from first_segment on,
 * concatenated) and fixture.properties; the records between start_lsn and end_lsn.
 */
record WalFixture(Properties properties, List<WalRecord> records) {
    static WalFixture load(Path dir) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(dir.resolve("fixture.properties"))) {
            p.load(in);
        }
        String seg = p.getProperty("first_segment");
        int segSize = Integer.parseInt(p.getProperty("wal_segment_size"));
        long segno = Long.parseLong(seg.substring(8, 16), 16) * (0x1_0000_0000L / segSize)
            + Long.parseLong(seg.substring(16), 16);
        Lsn start = Lsn.parse(p.getProperty("start_lsn"));
        Lsn end = Lsn.parse(p.getProperty("end_lsn"));
        byte[] wal = gunzip(dir.resolve("wal.gz"));
        List<WalRecord> records = new ArrayList<>();
        new WalDecoder(new Lsn(segno * segSize), segSize).feed(wal, 0, wal.length, r -> {
            if (!r.startLsn().isBefore(start) && !r.endLsn().isAfter(end)) {
                records.add(r);
            }
        });
        return new WalFixture(p, List.copyOf(records));
    }

    static byte[] gunzip(Path file) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            return in.readAllBytes();
        }
    }

    /** The records of one resource manager ({@link org.pageserver.protocol.wal.RmgrId}), in WAL order. */
    List<WalRecord> of(int rmid) {
        return records.stream().filter(r -> r.rmid() == rmid).toList();
    }

    /** Per record type, what pg_waldump lists: records, and page images there only for consistency checking. */
    record Listed(int records, int checkImages) {
    }

    /** The "name records images" lines make-fixture.sh writes from pg_waldump's listing. */
    static Map<String, Listed> listed(Path file) throws IOException {
        Map<String, Listed> out = new TreeMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                String[] f = line.trim().split(" ");
                out.put(f[0], new Listed(Integer.parseInt(f[1]), Integer.parseInt(f[2])));
            }
        }
        return out;
    }

    /** Replays every record through the consistency checker. */
    ConsistencyChecker check() {
        ConsistencyChecker c = new ConsistencyChecker();
        records.forEach(c::accept);
        return c;
    }

    /** {@code r} with another xl_info, block references and main data (for malformed variants). */
    static WalRecord with(WalRecord r, int info, List<BlockRef> blocks, byte[] mainData) {
        return new WalRecord(r.startLsn(), r.endLsn(), r.prevLsn(), r.xid(), r.rmid(), info, r.origin(), r.toplevelXid(),
            blocks, mainData, r.raw());
    }

    /** {@code b} with other data, or another fork_flags byte. */
    static BlockRef with(BlockRef b, int forkFlags, byte[] data) {
        return new BlockRef(b.blockId(), b.rel(), b.blkno(), forkFlags, b.hasImage(), b.applyImage(), b.bimgInfo(),
            b.holeOffset(), b.holeLength(), b.imageData(), data);
    }
}
