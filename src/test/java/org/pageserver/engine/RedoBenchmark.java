package org.pageserver.engine;

import org.pageserver.redo.PageChange;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.RedoException;
import org.pageserver.redo.SlruRedo;
import org.pageserver.redo.WalRedo;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/**
 * The redo benchmark (bench/redo.sh runs it; not a test). Two measurements:
 *
 * <p>{@code replay BASE_DIR WAL_DIR SEG_SIZE START END ROUNDS}: what PostgreSQL's startup process
 * does, in memory: every record from START (the base backup's redo pointer) to END is read from
 * the WAL files, decoded and applied to every block it references, the pages coming from the
 * base backup's files on first touch and staying in a map (a buffer pool holding the whole
 * database), SLRU pages too. Prints records per second and the JVM's CPU time per round;
 * records whose redo fails (a RedoException) are counted apart, never as applied.
 *
 * <p>{@code chain BASE_DIR WAL_DIR SEG_SIZE START END STORE_DIR}: GetPage@LSN of one block whose
 * history is 1, 10 and 100 records long, through the pageserver's read path without its page
 * cache: the store's history of the block (RocksDB) and PageRebuild. The block is the one with
 * the longest chain in the WAL (a pgbench_branches page); its records are stored as WalIngest
 * stores them. Prints p50 and p99 in microseconds.
 */
public final class RedoBenchmark {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path base = Path.of(args[1]);
        Path walDir = Path.of(args[2]);
        int segSize = Integer.parseInt(args[3]);
        Lsn start = Lsn.parse(args[4]);
        Lsn end = Lsn.parse(args[5]);
        if (mode.equals("replay")) {
            int rounds = Integer.parseInt(args[6]);
            Pages pages = new Pages(base);
            for (int i = 0; i < rounds; i++) {
                replay(pages, walDir, segSize, start, end);
            }
            for (RandomAccessFile f : pages.files.values()) {
                if (f != null) {
                    f.close();
                }
            }
        } else {
            chain(base, walDir, segSize, start, end, Path.of(args[6]), args.length > 7 ? Double.parseDouble(args[7]) : Double.NaN);
        }
    }

    static long segmentNumber(Path p, int segSize) {
        String n = p.getFileName().toString();
        return Long.parseLong(n.substring(8, 16), 16) * (0x100000000L / segSize) + Long.parseLong(n.substring(16), 16);
    }

    /** The segment files from the one holding {@code start} on, in order. */
    static List<Path> segments(Path dir, int segSize, Lsn start) throws IOException {
        long firstSeg = start.segmentNumber(segSize);
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}"))
                .filter(p -> segmentNumber(p, segSize) >= firstSeg).sorted().toList();
        }
    }

    /** The WAL from the segment holding {@code start} up to {@code end}, read from the segment files. */
    static byte[] readWal(Path dir, int segSize, Lsn start, Lsn end) throws IOException {
        List<Path> segments = segments(dir, segSize, start);
        byte[] wal = new byte[(int) (end.value() - start.segmentStart(segSize).value())];
        int off = 0;
        for (Path p : segments) {
            byte[] b = Files.readAllBytes(p);
            int n = Math.min(b.length, wal.length - off);
            System.arraycopy(b, 0, wal, off, n);
            off += n;
            if (off == wal.length) {
                break;
            }
        }
        return wal;
    }

    /**
     * Pages of a data directory, read on first touch, kept in memory: a buffer pool holding the
     * whole database. Its buffers are kept from round to round (and refilled from the files at
     * first touch in each round), as shared_buffers are allocated once: a new pool per round
     * would only measure the garbage collector copying the old one.
     */
    static final class Pages {
        final Path base;
        final Map<BufferTag, Buffer> pages = new HashMap<>(1 << 16);
        /** Open segment files by relation and segment number (null: no such file). */
        final Map<BufferTag, RandomAccessFile> files = new HashMap<>();
        int round;

        static final class Buffer {
            final byte[] page = new byte[8192];
            int round = -1;
        }

        Pages(Path base) {
            this.base = base;
        }

        void nextRound() {
            round++;
        }

        byte[] get(BufferTag tag) throws IOException {
            Buffer buf = pages.get(tag);
            if (buf == null) {
                buf = new Buffer();
                pages.put(tag, buf);
            }
            if (buf.round != round) {
                buf.round = round;
                byte[] p = buf.page;
                java.util.Arrays.fill(p, (byte) 0);
                SlruKind slru = SlruKind.fromRel(tag.rel());
                long blk = Integer.toUnsignedLong(tag.blkno());
                long perSeg = slru != null ? SlruKind.SLRU_PAGES_PER_SEGMENT : 131072;
                long seg = blk / perSeg;
                long offset = blk % perSeg * 8192;
                BufferTag segKey = new BufferTag(tag.rel(), (int) seg);
                RandomAccessFile f;
                if (files.containsKey(segKey)) {
                    f = files.get(segKey);
                } else {
                    String path = slru != null ? slru.dir + "/" + String.format("%04X", seg)
                        : tag.rel().path() + (seg > 0 ? "." + seg : "");
                    Path fp = base.resolve(path);
                    f = Files.exists(fp) ? new RandomAccessFile(fp.toFile(), "r") : null;
                    files.put(segKey, f);
                }
                if (f != null && offset + 8192 <= f.length()) {
                    f.seek(offset);
                    f.readFully(p);
                }
            }
            return buf.page;
        }
    }

    /** CPU time of the whole JVM (the redo thread, and the garbage collector and JIT threads working for it), in ns. */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
            .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static void replay(Pages pages, Path walDir, int segSize, Lsn start, Lsn end) throws IOException {
        long t0 = System.nanoTime();
        long cpu0 = processCpuNanos();
        pages.nextRound();
        long[] applied = new long[1];
        long[] blocks = new long[1];
        Map<String, Integer> failed = new TreeMap<>();
        Map<String, Integer> perRmgr = new TreeMap<>();
        WalDecoder decoder = new WalDecoder(start.segmentStart(segSize), segSize);
        java.util.function.Consumer<WalRecord> apply = r -> {
            if (r.startLsn().isBefore(start)) {
                return;
            }
            try {
                boolean ok = true;
                for (BlockRef b : r.blocks()) {
                    byte[] page = pages.get(new BufferTag(b.rel(), b.blkno()));
                    try {
                        WalRedo.redoBlock(r, b.blockId(), page, false);
                        blocks[0]++;
                    } catch (RedoException e) {
                        ok = false;
                    }
                }
                for (WalRedo.ImplicitBlock ib : WalRedo.implicitBlocks(r)) {
                    WalRedo.redoImplicit(r, ib.blkno(), pages.get(new BufferTag(ib.rel(), ib.blkno())));
                }
                for (SlruRedo.SlruPage sp : SlruRedo.pages(r, false)) {
                    SlruRedo.redo(r, sp.kind(), sp.pageno(), pages.get(new BufferTag(sp.kind().rel(), sp.pageno())));
                }
                if (ok) {
                    applied[0]++;
                    perRmgr.merge(RmgrId.name(r.rmid()), 1, Integer::sum);
                } else {
                    failed.merge(RmgrId.name(r.rmid()), 1, Integer::sum);
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        // as the startup process reads it: segment by segment, from the files
        for (Path seg : segments(walDir, segSize, start)) {
            byte[] b = Files.readAllBytes(seg);
            long segStart = segmentNumber(seg, segSize) * segSize;
            int n = (int) Math.min(b.length, end.value() - segStart);
            if (n <= 0) {
                break;
            }
            decoder.feed(b, 0, n, apply);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double cpu = (processCpuNanos() - cpu0) / 1e9;
        long total = applied[0] + failed.values().stream().mapToLong(Integer::longValue).sum();
        System.out.printf("ours: %d records (%d block redos, %d pages in memory) in %.2f s (CPU %.2f s): %.0f records/s,"
                + " %.1f MB/s of WAL; redo failed: %s; applied per rmgr: %s%n", total, blocks[0], pages.pages.size(), secs, cpu,
            total / secs,
            (end.value() - start.value()) / secs / 1e6, failed, perRmgr);
    }

    /**
     * @param pgPerRecordUs PostgreSQL's startup process, microseconds per record in the same run:
     *                      the table shows what replaying the same number of records costs it
     */
    static void chain(Path base, Path walDir, int segSize, Lsn start, Lsn end, Path storeDir, double pgPerRecordUs)
        throws IOException {
        byte[] wal = readWal(walDir, segSize, start, end);
        Map<BufferTag, List<WalRecord>> byBlock = new HashMap<>();
        new WalDecoder(start.segmentStart(segSize), segSize).feed(wal, 0, wal.length, r -> {
            if (r.startLsn().isBefore(start)) {
                return;
            }
            for (BlockRef b : r.blocks()) {
                if (b.rel().fork() == org.pageserver.protocol.ForkNumber.MAIN) {
                    byBlock.computeIfAbsent(new BufferTag(b.rel(), b.blkno()), k -> new ArrayList<>()).add(r);
                }
            }
        });
        // the block with the longest run of heap records after its first full-page image
        BufferTag best = null;
        List<WalRecord> chain = null;
        for (Map.Entry<BufferTag, List<WalRecord>> e : byBlock.entrySet()) {
            List<WalRecord> rs = e.getValue();
            if (rs.size() > 101 && (best == null || rs.size() > chain.size()) && rs.get(0).rmid() == RmgrId.RM_HEAP_ID) {
                best = e.getKey();
                chain = rs;
            }
        }
        if (best == null) {
            throw new IllegalStateException("no block with more than 100 records in the WAL");
        }
        System.out.println("block " + best + ": " + chain.size() + " records in the WAL");
        try (TenantStore store = TenantStore.open(storeDir, false)) {
            Pages pages = new Pages(base);
            try (StoreBatch b = store.newBatch()) {
                b.putImage(best.rel(), best.blkno(), start, pages.get(best).clone());
                for (WalRecord r : chain) {
                    for (BlockRef ref : r.blocks()) {
                        if (ref.rel().equals(best.rel()) && ref.blkno() == best.blkno()) {
                            b.putRecord(best.rel(), best.blkno(), r.startLsn(), r.endLsn(), new PageChange.RegisteredBlock(ref.blockId()),
                                ref.willInit() || (ref.hasImage() && ref.applyImage()), r.raw());
                        }
                    }
                }
                b.commit();
            }
            // a chain: a record that starts one (the image the first change after a checkpoint
            // carries) and the 99 records after it, none of which starts another
            int first = -1;
            for (int i = 0; i + 100 <= chain.size() && first < 0; i++) {
                if (startsChain(chain.get(i), best)) {
                    first = i;
                    for (int k = i + 1; k < i + 100; k++) {
                        if (startsChain(chain.get(k), best)) {
                            first = -1;
                            break;
                        }
                    }
                }
            }
            if (first < 0) {
                throw new IllegalStateException("no run of 100 records after an image for " + best);
            }
            final int lastStart = first;
            System.out.println("| chain (records replayed) | p50 us | p99 us | per record us "
                + "| PostgreSQL startup process, same records (us) | ratio (p50) |");
            System.out.println("|---|---|---|---|---|---|");
            for (int n : new int[] {1, 10, 100}) {
                Lsn at = chain.get(lastStart + n - 1).endLsn();
                PageHistory h = store.pageHistory(best.rel(), best.blkno(), at);
                int replayed = h.records().size();
                long[] lat = new long[3000];
                for (int w = 0; w < 500; w++) {
                    PageRebuild.rebuild(store.pageHistory(best.rel(), best.blkno(), at), best, false);
                }
                for (int i = 0; i < lat.length; i++) {
                    long t0 = System.nanoTime();
                    PageRebuild.rebuild(store.pageHistory(best.rel(), best.blkno(), at), best, false);
                    lat[i] = System.nanoTime() - t0;
                }
                Arrays.sort(lat);
                double p50 = lat[lat.length / 2] / 1e3;
                double p99 = lat[lat.length * 99 / 100] / 1e3;
                double pg = pgPerRecordUs * replayed;
                System.out.printf("| %d (%d) | %.1f | %.1f | %.2f | %.1f | %.2fx |%n", n, replayed, p50, p99, p50 / replayed, pg,
                    pg / p50);
            }
        }
    }

    static boolean startsChain(WalRecord r, BufferTag tag) {
        for (BlockRef ref : r.blocks()) {
            if (ref.rel().equals(tag.rel()) && ref.blkno() == tag.blkno()) {
                return ref.willInit() || (ref.hasImage() && ref.applyImage());
            }
        }
        return false;
    }

    private RedoBenchmark() {
    }
}
