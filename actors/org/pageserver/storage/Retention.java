package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.control.ControlFile;
import org.rocksdb.RocksIterator;

/**
 * Collapses a store's versions older than its retention horizon H, so that reads at H and
 * after give what they gave before and nothing older is kept:
 * <ul>
 *   <li>page: for each block, the newest version at or before H must be an image; when it is
 *       a record, the block is rebuilt as of H and stored as an image at H (it contains the
 *       records ending at H). Every older version is deleted, in the same batch as the image.
 *       A relation dropped at H (and not back after it) loses every version at or before H;</li>
 *   <li>relsize and file: per relation and path, the newest version at or before H stays and
 *       the older go; when that version is a drop or a removal, it goes too (nothing at H is
 *       what no version says as well);</li>
 *   <li>wal: the raw WAL before what a base backup at H replays (from the redo pointer of the
 *       last checkpoint at or before H) and before the segment of H (what a walsender may
 *       still be asked for), as one range deletion.</li>
 * </ul>
 * The horizon is durable before this runs ({@link TenantStore#advanceHorizon}), and each batch
 * leaves every block it touches complete, so an interrupted collapse is only redone. Reads are
 * consistent throughout: each batch is atomic, and reads use RocksDB's implicit snapshots.
 *
 * <p>Deletions are point deletes of the keys found (a block's older versions are few once the
 * store has been collapsed, and contiguous in key order so compaction drops them together),
 * except the WAL's single range: per-block range tombstones would each cost every read of the
 * range a check, which RocksDB's authors advise against in large numbers.
 */
public final class Retention {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Retention.class);
    /** Keys deleted (or images written) per batch, about. */
    private static final int BATCH_OPS = 4096;

    /** What one collapse removed. */
    public record Collapsed(long images, long pageVersions, long sizeVersions, long fileVersions, boolean walTrimmed,
                            long failures) {
        static final Collapsed NONE = new Collapsed(0, 0, 0, 0, false, 0);

        @Override
        public String toString() {
            return images + " images made, " + pageVersions + " page versions, " + sizeVersions + " size versions and "
                + fileVersions + " file versions removed" + (walTrimmed ? ", WAL trimmed" : "")
                + (failures > 0 ? ", " + failures + " blocks kept whole (redo failed)" : "");
        }
    }

    private final TenantStore store;
    private final PageRebuilder rebuilder;
    private final BooleanSupplier stop;
    private long images;
    private long pageVersions;
    private long failures;

    Retention(TenantStore store, PageRebuilder rebuilder, BooleanSupplier stop) {
        this.store = store;
        this.rebuilder = rebuilder;
        this.stop = stop;
    }

    Collapsed collapse(Lsn horizon) {
        collapsePages(horizon);
        long sizes = collapseVersions(TenantStore.Family.RELSIZE, horizon);
        long files = collapseVersions(TenantStore.Family.FILE, horizon);
        boolean wal = trimWal(horizon);
        return new Collapsed(images, pageVersions, sizes, files, wal, failures);
    }

    // ---------------------------------------------------------------- pages

    private void collapsePages(Lsn horizon) {
        byte[] resume = new byte[0];
        while (resume != null && !stop.getAsBoolean()) {
            byte[] from = resume;
            resume = store.whileOpen(() -> collapsePageChunk(from, horizon));
        }
    }

    /** Collapses blocks from the key {@code from} on, one batch's worth; the key to resume at, or null at the end. */
    private byte[] collapsePageChunk(byte[] from, Lsn horizon) {
        List<byte[]> deletes = new ArrayList<>();
        List<Object[]> newImages = new ArrayList<>(); // {RelTag, blkno, page}
        java.util.Map<RelTag, Boolean> gone = new java.util.HashMap<>();
        byte[] resume = null;
        try (RocksIterator it = store.iterator(TenantStore.Family.PAGE)) {
            it.seek(from);
            while (it.isValid()) {
                if (deletes.size() + newImages.size() >= BATCH_OPS) {
                    resume = it.key();
                    break;
                }
                byte[] key = it.key();
                RelTag rel = Keys.relOf(key);
                int blkno = Keys.blknoOf(key);
                byte[] prefix = Keys.blockPrefix(rel, blkno);
                it.seek(Keys.page(rel, blkno, horizon.value(), Keys.KIND_IMAGE));
                if (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
                    if (gone.computeIfAbsent(rel, r -> goneFrom(r, horizon))) {
                        // dropped at the horizon and never back since: no read can ask for it
                        while (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
                            deletes.add(it.key());
                            it.next();
                        }
                    } else {
                        collapseBlock(it, rel, blkno, prefix, horizon, deletes, newImages);
                    }
                }
                // past every version of the block: the oldest possible key, then one more
                it.seek(Keys.page(rel, blkno, 0, Keys.KIND_RECORD));
                if (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
                    it.next();
                }
            }
            store.checkIteratorStatus(it);
        }
        try (StoreBatch b = store.newBatch()) {
            for (Object[] img : newImages) {
                b.putImage((RelTag) img[0], (int) img[1], horizon, (byte[]) img[2]);
            }
            for (byte[] k : deletes) {
                b.delete(store.handle(TenantStore.Family.PAGE), k);
            }
            b.commitUnsynced();
            Faults.reach(Faults.Point.RETENTION);
        }
        images += newImages.size();
        pageVersions += deletes.size();
        return resume;
    }

    /**
     * The iterator is at the block's newest version at or before the horizon: makes it an image
     * if it is not one, and deletes everything older.
     */
    private void collapseBlock(RocksIterator it, RelTag rel, int blkno, byte[] prefix, Lsn horizon,
                               List<byte[]> deletes, List<Object[]> newImages) {
        byte[] first = it.key();
        boolean isImage = Keys.pageKindOf(first) == Keys.KIND_IMAGE;
        if (!isImage) {
            PageHistory h = PageVersions.walk(it, prefix, Lsn.INVALID);
            BufferTag tag = new BufferTag(rel, blkno);
            try {
                newImages.add(new Object[] {rel, blkno, rebuilder.rebuild(h, tag)});
            } catch (RuntimeException redoFailed) {
                failures++;
                LOG.warn("block {} of {} keeps its versions before {}: {}", tag, store.dir().getFileName(), horizon,
                    redoFailed.toString());
                return;
            }
            it.seek(first);
        } else {
            it.next();
        }
        // every version from here on in the block is older than the one kept (or made at H)
        while (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
            deletes.add(it.key());
            it.next();
        }
    }

    /** The relation does not exist as of {@code horizon} and has no size version after it. */
    private boolean goneFrom(RelTag rel, Lsn horizon) {
        byte[] prefix = Keys.relPrefix(rel);
        try (RocksIterator it = store.iterator(TenantStore.Family.RELSIZE)) {
            it.seekForPrev(Keys.relsize(rel, horizon.value()));
            if (it.isValid() && Keys.hasPrefix(it.key(), prefix) && it.value().length > 0) {
                return false;
            }
            it.seek(Keys.relsize(rel, horizon.value() + 1));
            boolean later = it.isValid() && Keys.hasPrefix(it.key(), prefix);
            store.checkIteratorStatus(it);
            return !later;
        }
    }

    // ---------------------------------------------------------------- sizes and files

    /**
     * Per relation (relsize) or path (file): keeps the newest version at or before the horizon
     * unless it says "gone", and deletes the older ones. Both families' keys end in the LSN
     * (u64, ascending) after a prefix naming the relation or path.
     */
    private long collapseVersions(TenantStore.Family family, Lsn horizon) {
        return store.whileOpen(() -> {
            long removed = 0;
            List<byte[]> older = new ArrayList<>();
            try (RocksIterator it = store.iterator(family); StoreBatch b = store.newBatch()) {
                byte[] currentPrefix = null;
                byte[] newestAtOrBefore = null;
                byte[] newestValue = null;
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    byte[] key = it.key();
                    byte[] prefix = Arrays.copyOf(key, key.length - 8);
                    if (!Arrays.equals(prefix, currentPrefix)) {
                        removed += flushVersions(b, family, older, newestAtOrBefore, newestValue);
                        currentPrefix = prefix;
                        newestAtOrBefore = null;
                        newestValue = null;
                    }
                    long lsn = ByteBuffer.wrap(key, key.length - 8, 8).order(ByteOrder.BIG_ENDIAN).getLong();
                    if (Long.compareUnsigned(lsn, horizon.value()) <= 0) {
                        if (newestAtOrBefore != null) {
                            older.add(newestAtOrBefore);
                        }
                        newestAtOrBefore = key;
                        newestValue = it.value();
                    }
                }
                removed += flushVersions(b, family, older, newestAtOrBefore, newestValue);
                store.checkIteratorStatus(it);
                b.commitUnsynced();
            }
            return removed;
        });
    }

    private long flushVersions(StoreBatch b, TenantStore.Family family, List<byte[]> older, byte[] newest,
                               byte[] newestValue) {
        if (newest != null && newestValue.length == 0) {
            older.add(newest); // a drop or a removal: reads find nothing without it as well
        }
        long n = older.size();
        for (byte[] k : older) {
            b.delete(store.handle(family), k);
        }
        older.clear();
        return n;
    }

    // ---------------------------------------------------------------- raw WAL

    /**
     * Deletes the raw WAL pieces that start before the piece holding the first byte still
     * needed: the redo pointer of the last checkpoint at or before the horizon (a base backup
     * at the horizon counts XIDs and OIDs from there) or the start of the horizon's segment,
     * whichever is older.
     */
    private boolean trimWal(Lsn horizon) {
        TenantMeta meta = store.meta().orElseThrow();
        Lsn keep = Lsn.min(horizon.segmentStart(meta.walSegSize()), checkpointRedo(horizon).orElse(Lsn.INVALID));
        if (!keep.isValid()) {
            return false;
        }
        return store.whileOpen(() -> {
            try (RocksIterator it = store.iterator(TenantStore.Family.WAL)) {
                it.seekForPrev(Keys.wal(keep.value()));
                if (!it.isValid()) {
                    return false;
                }
                byte[] firstKept = it.key();
                it.seekToFirst();
                if (!it.isValid() || Arrays.equals(it.key(), firstKept)) {
                    return false;
                }
                try (StoreBatch b = store.newBatch()) {
                    b.deleteRange(store.handle(TenantStore.Family.WAL), Keys.wal(0), firstKept);
                    b.commitUnsynced();
                }
                return true;
            }
        });
    }

    /** The redo pointer of the newest checkpoint at or before {@code lsn}: the ingest's, else the imported pg_control's. */
    private Optional<Lsn> checkpointRedo(Lsn lsn) {
        Lsn best = Lsn.INVALID;
        Lsn bestAt = Lsn.INVALID;
        Optional<byte[]> control = store.file("global/pg_control", lsn);
        if (control.isPresent()) {
            ControlFile cf = ControlFile.parse(control.get());
            best = cf.checkPointCopy().redo();
            bestAt = cf.checkPoint();
        }
        Optional<byte[]> stored = store.file(WalStateFiles.CHECKPOINT, lsn);
        if (stored.isPresent() && stored.get().length >= 8 + ControlFile.CheckPoint.SIZE) {
            byte[] v = stored.get();
            Lsn at = new Lsn(ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
            if (at.isAfter(bestAt)) {
                best = ControlFile.CheckPoint.parse(Arrays.copyOfRange(v, 8, v.length)).redo();
            }
        }
        return best.isValid() ? Optional.of(best) : Optional.empty();
    }
}
