package org.pageserver.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.pageserver.engine.SharedPageCache.CachedPage;
import org.pageserver.protocol.BufferTag;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.storage.BelowHorizonException;
import org.pageserver.storage.PageHistory;
import org.pageserver.storage.TenantStore;

/**
 * The storage side of page reads that missed the cache: a batch of them read in one task (one
 * thread switch for all instead of one each), and what each read's history calls for: an
 * answer at once, or a redo. Blocking methods run on the read dispatcher; the rest is pure.
 *
 * @param <R> the request a read answers (opaque here)
 */
public final class PageReads<R> {
    /** Most reads in one storage task; more misses than this are spread over several tasks. */
    public static final int MAX_READS_PER_TASK = 16;

    /**
     * A read that missed the cache. {@code base}: a cached older version of the block to replay
     * from, or null; {@code knownSize}: the relation's size from the size cache, or null.
     */
    public record Pending<R>(R request, BufferTag tag, Lsn lsn, CachedPage base, Integer knownSize) {
    }

    /**
     * What storage had for a read: the history to rebuild from (on top of {@code cachedPage} when
     * incremental), or an {@code error}. {@code sizeRead}: the relation's size as the read found
     * it in the store (-1: it does not exist), or null when the size cache had it.
     */
    public record Read<R>(R request, BufferTag tag, Lsn lsn, PageHistory history, byte[] cachedPage, String error,
                          Integer sizeRead) {
    }

    /** What a read calls for. */
    public sealed interface Outcome {
    }

    public record Failed(String message) implements Outcome {
    }

    /** The page, without redo; {@code fromCache}: it is the cached base page. */
    public record Ready(byte[] page, boolean fromCache) implements Outcome {
    }

    /** Records to replay on the history's base; {@code fromCache}: the base is the cached page. */
    public record Redo(PageHistory history, boolean fromCache) implements Outcome {
    }

    private final TenantStore store;

    public PageReads(TenantStore store) {
        this.store = store;
    }

    /** Blocking. The relation's size as of {@code lsn}; empty when it does not exist. */
    public OptionalInt relSize(RelTag rel, Lsn lsn) {
        return store.relSize(rel, lsn);
    }

    /** Blocking. A failed read fails its request alone. */
    public List<Read<R>> readAll(List<Pending<R>> batch) {
        List<Read<R>> out = new ArrayList<>(batch.size());
        for (Pending<R> r : batch) {
            try {
                out.add(read(r));
            } catch (RuntimeException e) {
                out.add(failed(r, e));
            }
        }
        return out;
    }

    public static <R> Read<R> failed(Pending<R> r, Throwable e) {
        return new Read<>(r.request(), r.tag(), r.lsn(), null, null, storageError(e), null);
    }

    /** A failed storage read as the client is told: when the horizon passed the LSN after admission, as before it. */
    public static String storageError(Throwable e) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof BelowHorizonException ? cause.getMessage() : "storage read failed: " + e.getMessage();
    }

    /** Blocking. */
    private Read<R> read(Pending<R> p) {
        RelTag rel = p.tag().rel();
        int blkno = p.tag().blkno();
        Lsn lsn = p.lsn();
        Integer knownSize = p.knownSize();
        OptionalInt size = knownSize == null ? store.relSize(rel, lsn)
            : knownSize < 0 ? OptionalInt.empty() : OptionalInt.of(knownSize);
        Integer sizeRead = knownSize != null ? null : size.isPresent() ? size.getAsInt() : -1;
        if (size.isEmpty()) {
            return new Read<>(p.request(), p.tag(), lsn, null, null, "relation " + rel + " does not exist at " + lsn,
                sizeRead);
        }
        if (Integer.compareUnsigned(blkno, size.getAsInt()) >= 0) {
            return new Read<>(p.request(), p.tag(), lsn, null, null, "block " + Integer.toUnsignedString(blkno)
                + " of relation " + rel + " does not exist at " + lsn + " (relation has " + size.getAsInt()
                + " blocks)", sizeRead);
        }
        CachedPage cached = p.base();
        if (cached != null) {
            PageHistory h = store.pageHistorySince(rel, blkno, cached.lsn(), lsn);
            return new Read<>(p.request(), p.tag(), lsn, h, h.isIncremental() ? cached.page() : null, null, sizeRead);
        }
        return new Read<>(p.request(), p.tag(), lsn, store.pageHistory(rel, blkno, lsn), null, null, sizeRead);
    }

    /** What a read's history calls for. Pure. */
    public static Outcome resolve(Read<?> r) {
        if (r.error() != null) {
            return new Failed(r.error());
        }
        PageHistory h = r.history();
        if (r.cachedPage() != null && h.records().isEmpty()) {
            // nothing happened to the block since the cached version: it is the answer
            return new Ready(r.cachedPage(), true);
        }
        if (r.cachedPage() != null) {
            return new Redo(new PageHistory(r.cachedPage(), h.baseLsn(), h.records()), true);
        }
        if (h.records().isEmpty()) {
            // an image and nothing after it: no redo to do
            return new Ready(h.baseImage() != null ? h.baseImage() : new byte[PageRebuild.BLCKSZ], false);
        }
        return new Redo(h, false);
    }

    /**
     * Blocking. Like pg_database_size: every fork of every relation of the database. The SLRU
     * pseudo-relations (tablespace 0, database 0: SlruKind) belong to no database.
     */
    public long dbSize(int dbNode, Lsn lsn) {
        long blocks = 0;
        for (Map.Entry<RelTag, Integer> e : store.relations(lsn).entrySet()) {
            if (e.getKey().dbNode() == dbNode && SlruKind.fromRel(e.getKey()) == null) {
                blocks += Integer.toUnsignedLong(e.getValue());
            }
        }
        return blocks * 8192L;
    }
}
