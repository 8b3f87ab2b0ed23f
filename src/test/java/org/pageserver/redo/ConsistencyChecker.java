package org.pageserver.redo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.mask.BufMask;

/**
 * Replays WAL written with wal_consistency_checking against PostgreSQL's own after-images: for
 * every block image that is there only for checking (hasImage, !applyImage), the page before
 * the record is the block's previous known state (its last image or our replay of it), our
 * redo of the record on it is masked as the rmgr's mask does, and must equal the image, masked.
 */
final class ConsistencyChecker {
    final Map<String, Integer> checked = new TreeMap<>();
    final List<String> mismatches = new ArrayList<>();
    final Map<String, Integer> unsupported = new TreeMap<>();
    /** Every record decoded, per resource manager; each must pass the ingest check (RecordCheck). */
    final Map<String, Integer> records = new TreeMap<>();
    /** Every record decoded, per record type ("Heap2/0x70"). */
    final Map<String, Integer> recordTypes = new TreeMap<>();
    /** Record parts some primaries write and others do not (see {@link #countParts}), counted. */
    final Map<String, Integer> parts = new TreeMap<>();
    private final Map<String, byte[]> current = new HashMap<>();

    static String type(WalRecord r) {
        return RmgrId.name(r.rmid()) + "/0x" + Integer.toHexString(r.rmgrInfo());
    }

    void accept(WalRecord r) {
        records.merge(RmgrId.name(r.rmid()), 1, Integer::sum);
        recordTypes.merge(type(r), 1, Integer::sum);
        try {
            RecordCheck.check(r);
            countParts(r);
        } catch (RedoException e) {
            mismatches.add(type(r) + " at " + r.startLsn() + " refused by the ingest check: " + e.getMessage());
        }
        boolean ours = WalRedo.canRedo(r);
        for (BlockRef b : r.blocks()) {
            String key = b.rel() + "#" + Integer.toUnsignedString(b.blkno());
            byte[] before = current.get(key);
            byte[] truth = b.hasImage() && !b.applyImage() ? b.restoreImage(r.startLsn()) : null;
            if (!ours) {
                unsupported.merge(type(r), 1, Integer::sum);
                if (b.hasImage()) {
                    current.put(key, b.restoreImage(r.startLsn()));
                } else {
                    current.remove(key);
                }
                continue;
            }
            byte[] page = before != null ? before.clone() : null;
            if (page == null && (b.willInit() || (b.hasImage() && b.applyImage()))) {
                page = new byte[8192];
            }
            if (page == null) {
                if (truth != null) {
                    current.put(key, truth);
                }
                continue;
            }
            try {
                WalRedo.redoBlock(r, b.blockId(), page, true);
            } catch (RedoException e) {
                mismatches.add(type(r) + " at " + r.startLsn() + " block " + key + ": " + e.getMessage());
                current.remove(key);
                continue;
            }
            if (truth != null) {
                checked.merge(type(r), 1, Integer::sum);
                byte[] a = BufMask.mask(r.rmid(), page, b.blkno());
                byte[] e = BufMask.mask(r.rmid(), truth, b.blkno());
                if (!Arrays.equals(a, e)) {
                    int at = Arrays.mismatch(a, e);
                    mismatches.add(type(r) + " at " + r.startLsn() + " block " + key + ": first difference at byte " + at
                        + " (ours " + (a[at] & 0xFF) + ", primary " + (e[at] & 0xFF) + ")");
                }
                current.put(key, truth);
            } else {
                current.put(key, page);
            }
        }
    }

    /**
     * The parts a logical-level primary adds (old tuples, tuple data kept with an image, records
     * under a replication origin) and lz4-compressed images, each decoded by its parser.
     */
    private void countParts(WalRecord r) {
        int op = r.rmgrInfo() & HeapXlog.XLOG_HEAP_OPMASK;
        if (r.rmid() == RmgrId.RM_HEAP_ID && op == HeapXlog.XLOG_HEAP_DELETE) {
            HeapXlog.XlHeapDelete x = HeapXlog.XlHeapDelete.parse(r);
            if ((x.flags() & HeapXlog.XLH_DELETE_CONTAINS_OLD_TUPLE) != 0 && x.oldTuple() != null) {
                parts.merge("Heap DELETE old tuple", 1, Integer::sum);
            }
            if ((x.flags() & HeapXlog.XLH_DELETE_CONTAINS_OLD_KEY) != 0 && x.oldTuple() != null) {
                parts.merge("Heap DELETE old key", 1, Integer::sum);
            }
        }
        if (r.rmid() == RmgrId.RM_HEAP_ID && (op == HeapXlog.XLOG_HEAP_UPDATE || op == HeapXlog.XLOG_HEAP_HOT_UPDATE)) {
            HeapXlog.XlHeapUpdate x = HeapXlog.XlHeapUpdate.parse(r);
            if ((x.flags() & HeapXlog.XLH_UPDATE_CONTAINS_OLD_TUPLE) != 0 && x.oldTuple() != null) {
                parts.merge("Heap UPDATE old tuple", 1, Integer::sum);
            }
            if ((x.flags() & HeapXlog.XLH_UPDATE_CONTAINS_OLD_KEY) != 0 && x.oldTuple() != null) {
                parts.merge("Heap UPDATE old key", 1, Integer::sum);
            }
        }
        if (r.rmid() == RmgrId.RM_HEAP_ID && op == HeapXlog.XLOG_HEAP_INSERT
            && (HeapXlog.XlHeapInsert.parse(r).flags() & HeapXlog.XLH_INSERT_CONTAINS_NEW_TUPLE) != 0
            && r.block(0).hasImage() && r.block(0).applyImage() && r.block(0).data() != null) {
            parts.merge("Heap INSERT tuple kept with an applied image", 1, Integer::sum);
        }
        if (r.origin() != 0) {
            parts.merge(RmgrId.name(r.rmid()) + " record under a replication origin", 1, Integer::sum);
        }
        for (BlockRef b : r.blocks()) {
            if (b.hasImage() && (b.bimgInfo() & BlockRef.BKPIMAGE_COMPRESS_LZ4) != 0) {
                parts.merge("lz4 image", 1, Integer::sum);
            }
        }
    }

    int total() {
        return checked.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** Decodes the segments of a pg_wal directory from {@code start} (a segment start) on. */
    static void decodeDirectory(Path pgWal, Lsn start, int segSize, Consumer<WalRecord> sink) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(pgWal)) {
            files = s.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList();
        }
        long segsPerId = 0x100000000L / segSize;
        WalDecoder d = new WalDecoder(start, segSize);
        for (Path f : files) {
            String n = f.getFileName().toString();
            long seg = Long.parseLong(n.substring(8, 16), 16) * segsPerId + Long.parseLong(n.substring(16), 16);
            if (seg < start.segmentNumber(segSize)) {
                continue;
            }
            byte[] b = Files.readAllBytes(f);
            try {
                d.feed(b, 0, b.length, sink);
            } catch (WalDecodeException e) {
                // the zero tail of the segment being written, or after an XLOG_SWITCH the next
                // file (preallocated zeros, or a recycled segment): the end of the WAL, as
                // PostgreSQL's reader takes them
                if (e.getMessage().contains("invalid record length") || e.getMessage().contains("invalid magic number")
                    || e.getMessage().contains("unexpected pageaddr")) {
                    return;
                }
                throw e;
            }
        }
    }

    public static void main(String[] args) throws IOException {
        ConsistencyChecker c = new ConsistencyChecker();
        decodeDirectory(Path.of(args[0]), Lsn.parse(args[1]), Integer.parseInt(args[2]), c::accept);
        System.out.println("checked " + c.checked);
        System.out.println("not redone here " + c.unsupported);
        System.out.println(c.mismatches.size() + " mismatches");
        c.mismatches.stream().limit(30).forEach(System.out::println);
    }
}
