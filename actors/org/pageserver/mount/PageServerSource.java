package org.pageserver.mount;

import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelFileName;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.page.PageChecksum;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;

/**
 * Blocks as of the clone's LSN from the pageserver, by GetPage@LSN ({@code latest} 0: exactly
 * as of it). FUSE calls come from several threads and a {@link PageClient} serves one thread,
 * so connections are pooled: a read takes one, pipelines its requests (a 128 kB FUSE read is
 * 16 blocks in one round trip), and gives it back.
 *
 * <p>Read-ahead: a read that starts where the previous read of the same fork ended is taken as
 * sequential and its request is extended by {@link #READ_AHEAD} blocks (within the fork), put
 * into a bounded cache of pages. Caching is safe because a page as of a fixed LSN never
 * changes; the upper layer is always consulted first, so a page the compute rewrote is never
 * read from here.
 *
 * <p>Data checksums: a page rebuilt by redo carries whatever pd_checksum its last full-page
 * image had, and PostgreSQL verifies it on every read; so when the clone's pg_control has data
 * checksums on, each page gets its checksum as block {@code blkno} of its fork, as a base
 * backup writes it.
 *
 * <p>Failures: an error response (a page the pageserver cannot give) is an IOException at once.
 * A lost connection (the pageserver restarting) is retried with a fresh connection until
 * {@code retryFor} has passed, so reads wait and resume across a pageserver restart.
 */
public final class PageServerSource implements PageSource {
    static final int READ_AHEAD = 64;
    static final int CACHE_PAGES = 4096;
    private static final int BLCKSZ = RelFileName.BLCKSZ;

    /** Opens a connection; one per pooled client. */
    public interface Connector {
        PageClient connect() throws SQLException;
    }

    private final Connector connector;
    private final Lsn lsn;
    private final Duration retryFor;
    private final boolean checksums;
    private final LinkedBlockingDeque<PageClient> idle = new LinkedBlockingDeque<>();
    private final java.util.concurrent.atomic.AtomicLong roundTrips = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong pagesFetched = new java.util.concurrent.atomic.AtomicLong();
    private final Map<RelTag, Long> nextSequential = new ConcurrentHashMap<>();
    private final Map<Key, byte[]> cache = new LinkedHashMap<>(CACHE_PAGES, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, byte[]> e) {
            return size() > CACHE_PAGES;
        }
    };

    private record Key(RelTag rel, long blkno) {
    }

    /** @param checksums set data checksums on every page (the cluster has them on) */
    public PageServerSource(Connector connector, Lsn lsn, Duration retryFor, boolean checksums) {
        this.connector = connector;
        this.lsn = lsn;
        this.retryFor = retryFor;
        this.checksums = checksums;
    }

    /** A source over pgjdbc connections to {@code url}. */
    public static PageServerSource connect(String url, String user, String password, SystemId systemId, Lsn lsn,
                                           Duration retryFor, boolean checksums) {
        return new PageServerSource(() -> PageClient.connect(url, user, password, systemId), lsn, retryFor, checksums);
    }

    @Override
    public void read(RelTag rel, long first, int count, long limit, byte[] dst, int dstOff) throws IOException {
        int missingFrom = -1;
        synchronized (cache) {
            for (int i = 0; i < count; i++) {
                byte[] p = cache.get(new Key(rel, first + i));
                if (p == null) {
                    missingFrom = i;
                    break;
                }
                System.arraycopy(p, 0, dst, dstOff + i * BLCKSZ, BLCKSZ);
            }
        }
        Long expected = nextSequential.put(rel, first + count);
        if (missingFrom < 0) {
            return;
        }
        long from = first + missingFrom;
        long to = first + count;
        if (expected != null && expected == first) {
            to = Math.min(limit, to + READ_AHEAD);
        }
        List<byte[]> pages = fetch(rel, from, (int) (to - from));
        synchronized (cache) {
            for (int i = 0; i < pages.size(); i++) {
                long blk = from + i;
                if (blk < first + count) {
                    System.arraycopy(pages.get(i), 0, dst, dstOff + (int) (blk - first) * BLCKSZ, BLCKSZ);
                } else {
                    cache.put(new Key(rel, blk), pages.get(i));
                }
            }
        }
    }

    private List<byte[]> fetch(RelTag rel, long from, int n) throws IOException {
        List<PageStreamRequest> requests = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            requests.add(new PageStreamRequest.GetPage(false, lsn, rel, (int) (from + i)));
        }
        long deadline = System.nanoTime() + retryFor.toNanos();
        SQLException last = null;
        while (true) {
            PageClient client = null;
            try {
                client = borrow();
                List<PageStreamResponse> responses = client.pipeline(requests, PageClient.DEFAULT_WINDOW);
                roundTrips.incrementAndGet();
                pagesFetched.addAndGet(n);
                idle.push(client);
                client = null;
                List<byte[]> pages = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    PageStreamResponse r = responses.get(i);
                    if (r instanceof PageStreamResponse.Page p) {
                        if (checksums) {
                            PageChecksum.set(p.page(), (int) (from + i));
                        }
                        pages.add(p.page());
                    } else if (r instanceof PageStreamResponse.Error e) {
                        throw new IOException("block " + (from + i) + " of " + rel + " as of " + lsn + ": " + e.message());
                    } else {
                        throw new IOException("unexpected pagestream response " + r);
                    }
                }
                return pages;
            } catch (SQLException e) {
                last = e;
                closeQuietly(client);
                dropIdle();
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the pageserver is unreachable: " + last.getMessage(), last);
            }
            try {
                Thread.sleep(200); // reconnect back-off while the pageserver restarts
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", ie);
            }
        }
    }

    /** Pipelined batches sent so far (each at most {@link PageClient#DEFAULT_WINDOW} requests ahead). */
    public long roundTrips() {
        return roundTrips.get();
    }

    /** Pages received from the pageserver so far (read-ahead included). */
    public long pagesFetched() {
        return pagesFetched.get();
    }

    private PageClient borrow() throws SQLException {
        PageClient c = idle.poll();
        return c != null ? c : connector.connect();
    }

    /** Idle connections were opened to the same server: after one failed, they are stale too. */
    private void dropIdle() {
        PageClient c;
        while ((c = idle.poll()) != null) {
            closeQuietly(c);
        }
    }

    private static void closeQuietly(PageClient c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException | RuntimeException ignored) {
            // the connection is gone either way
        }
    }

    @Override
    public void close() {
        dropIdle();
    }
}
