package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.util.OptionalInt;
import java.util.TreeMap;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksIterator;

/**
 * Reads of the {@code page} and {@code relsize} families: block histories, relation sizes and
 * the relation list, as of an LSN. Only the walks over the keys: {@link TenantStore}, which
 * publishes these reads, holds the store open and checks the retention horizon around them.
 */
final class RelationReads {
    private final StoreDb db;

    RelationReads(StoreDb db) {
        this.db = db;
    }

    /** See {@link TenantStore#pageHistorySince}; {@code since} INVALID: back to an image or chain start. */
    PageHistory history(RelTag rel, int blkno, Lsn since, Lsn lsn) {
        try (ReadOptions ro = new ReadOptions(); RocksIterator it = db.db.newIterator(db.page, ro)) {
            PageHistory h = PageVersions.history(it, rel, blkno, lsn, since);
            db.checkIterator(it);
            return h;
        }
    }

    /** See {@link TenantStore#pageVersions}; {@code release} runs once the reader is closed. */
    PageVersions versions(Lsn lsn, Runnable release) {
        // a bulk read: it would evict what GetPage keeps in the block cache
        ReadOptions ro = new ReadOptions().setFillCache(false);
        return new PageVersions(db.db.newIterator(db.page, ro), lsn, () -> {
            ro.close();
            release.run();
        }, db::checkIterator);
    }

    OptionalInt relSize(RelTag rel, Lsn lsn) {
        byte[] prefix = Keys.relPrefix(rel);
        try (RocksIterator it = db.db.newIterator(db.relsize)) {
            it.seekForPrev(Keys.relsize(rel, lsn.value()));
            if (it.isValid() && Keys.hasPrefix(it.key(), prefix)) {
                byte[] v = it.value();
                return v.length == 0 ? OptionalInt.empty() : OptionalInt.of(ByteBuffer.wrap(v).getInt());
            }
            db.checkIterator(it);
        }
        return OptionalInt.empty();
    }

    /**
     * One seek per relation, not a walk over every size version (a relation gets one at each
     * extension): the newest version at or before {@code lsn}, then past the relation's last key.
     */
    TreeMap<RelTag, Integer> relations(Lsn lsn) {
        TreeMap<RelTag, Integer> out = new TreeMap<>();
        try (RocksIterator it = db.db.newIterator(db.relsize)) {
            it.seekToFirst();
            while (it.isValid()) {
                RelTag rel = Keys.relOf(it.key());
                it.seekForPrev(Keys.relsize(rel, lsn.value()));
                if (it.isValid() && Keys.relOf(it.key()).equals(rel)) {
                    addIfExists(out, rel, it.value());
                }
                // every version of rel sorts at or before the largest LSN (all ones)
                it.seek(Keys.relsize(rel, -1L));
                if (it.isValid() && Keys.relOf(it.key()).equals(rel)) {
                    it.next(); // a version at exactly that LSN
                }
            }
            db.checkIterator(it);
        }
        return out;
    }

    private static void addIfExists(TreeMap<RelTag, Integer> out, RelTag rel, byte[] v) {
        if (rel != null && v != null && v.length == 4) {
            out.put(rel, ByteBuffer.wrap(v).getInt());
        }
    }

    /** Every record entry in key order, across blocks (a total-order scan). */
    void forEachRecordEntry(TenantStore.RecordEntrySink sink) {
        try (RocksIterator it = db.db.newIterator(db.page, db.totalOrder)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (Keys.pageKindOf(k) == Keys.KIND_RECORD) {
                    byte[] v = it.value();
                    sink.accept(Keys.relOf(k), Keys.blknoOf(k), PageVersions.recordStart(v),
                        new Lsn(Keys.pageLsnOf(k)), PageVersions.recordChange(v));
                }
            }
            db.checkIterator(it);
        }
    }
}
