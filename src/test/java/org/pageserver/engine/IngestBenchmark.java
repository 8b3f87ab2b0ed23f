package org.pageserver.engine;

import java.io.IOException;
import java.nio.file.Path;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.storage.TenantStore;

/**
 * The ingest benchmark (bench/ingest.sh runs it): WAL segment files fed in 128 kB pieces, as
 * the receiver gets them, through (1) the decoder alone and (2) the whole store path of
 * {@link WalIngest}: decode, index every block reference, keep the raw WAL, fsync each batch.
 * Prints MB/s for both. Not a test: run by hand or by the script.
 *
 * <p>Usage: IngestBenchmark SEGMENT_DIR SEG_SIZE START_LSN END_LSN STORE_DIR
 */
public final class IngestBenchmark {
    static final int CHUNK = 128 << 10;
    /** Group commit as the WAL-stream actor does it: a batch per this much WAL. */
    static final int BATCH_BYTES = 4 << 20;

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int segSize = Integer.parseInt(args[1]);
        Lsn start = Lsn.parse(args[2]);
        Lsn end = Lsn.parse(args[3]);
        Path storeDir = Path.of(args[4]);
        byte[] wal = RedoBenchmark.readWal(dir, segSize, start, end);
        Lsn from = start.segmentStart(segSize);
        long bytes = wal.length;

        // 1. decode only
        long records = 0;
        long t0 = System.nanoTime();
        for (int rep = 0; rep < 2; rep++) {
            long[] count = new long[1];
            WalDecoder d = new WalDecoder(from, segSize);
            for (int p = 0; p < wal.length; p += CHUNK) {
                d.feed(wal, p, Math.min(CHUNK, wal.length - p), r -> count[0]++);
            }
            records = count[0];
            if (rep == 0) {
                t0 = System.nanoTime();
            }
        }
        double decodeSecs = (System.nanoTime() - t0) / 1e9;

        // 2. decode + index + raw WAL + fsync per batch
        long t1 = System.nanoTime();
        try (TenantStore store = TenantStore.open(storeDir, true)) {
            WalIngest ingest = new WalIngest(from, segSize);
            BatchWriter writer = new BatchWriter(store, from, false);
            long sinceBatch = 0;
            for (int p = 0; p < wal.length; p += CHUNK) {
                int n = Math.min(CHUNK, wal.length - p);
                byte[] chunk = new byte[n];
                System.arraycopy(wal, p, chunk, 0, n);
                ingest.receive(from.plus(p), chunk);
                sinceBatch += n;
                if (sinceBatch >= BATCH_BYTES) {
                    writer.write(ingest.takeBatch());
                    sinceBatch = 0;
                }
            }
            writer.write(ingest.takeBatch());
        }
        double storeSecs = (System.nanoTime() - t1) / 1e9;
        System.out.printf("wal_bytes=%d records=%d decode_secs=%.3f decode_mb_s=%.1f store_secs=%.3f store_mb_s=%.1f%n",
            bytes, records, decodeSecs, bytes / 1e6 / decodeSecs, storeSecs, bytes / 1e6 / storeSecs);
    }
}
