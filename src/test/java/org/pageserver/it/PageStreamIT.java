package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;

/**
 * The page service with real clients: every block of the pgbench tables read through the
 * pagestream equals the primary's own file after CHECKPOINT; pipelining; 200 concurrent
 * connections while ingest runs; errors as responses; garbage closing only its connection; a
 * client that stops reading does not stall the others.
 */
class PageStreamIT {
    @TempDir
    static Path tmp;
    static PgCluster pg;
    static TestPageServer ps;
    static SystemId systemId;
    static Map<String, RelTag> rels = new java.util.LinkedHashMap<>();

    @BeforeAll
    static void setUp() throws Exception {
        // autovacuum off: nothing but the test touches the pgbench tables once loaded
        pg = PgCluster.builder().set("autovacuum", "off").start();
        pg.pgbench("-i", "-s", "2", "-q");
        pg.psql("create table churn(id serial, v text)");
        ps = TestPageServer.start(tmp.resolve("ps"));
        systemId = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
        for (String name : List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_accounts_pkey",
            "pgbench_branches_pkey", "pgbench_tellers_pkey")) {
            String[] r = pg.psql("select case when reltablespace = 0 then 1663 else reltablespace end, "
                + "(select oid from pg_database where datname = current_database()), pg_relation_filenode(oid) "
                + "from pg_class where relname = '" + name + "'").split("\\|");
            rels.put(name, new RelTag(Integer.parseInt(r[0]), Integer.parseInt(r[1]), Integer.parseInt(r[2]),
                ForkNumber.MAIN));
        }
        pg.psql("checkpoint");
        ps.awaitDurable(pg.flushLsn(), java.time.Duration.ofSeconds(30));
    }

    @AfterAll
    static void tearDown() {
        if (ps != null) {
            ps.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    static PageClient client() throws SQLException {
        return PageClient.connect(ps.url(), "postgres", null, systemId);
    }

    static byte[] filePage(RelTag rel, int blkno) throws IOException {
        byte[] page = new byte[8192];
        try (var f = new java.io.RandomAccessFile(pg.dataDir().resolve(rel.path()).toFile(), "r")) {
            f.seek((long) blkno * 8192);
            f.readFully(page);
        }
        return page;
    }

    static int fileBlocks(RelTag rel) throws IOException {
        return (int) (Files.size(pg.dataDir().resolve(rel.path())) / 8192);
    }

    @Test
    void everyBlockOfThePgbenchTablesEqualsThePrimarysPage() throws Exception {
        try (PageClient c = client()) {
            int pages = 0;
            for (Map.Entry<String, RelTag> e : rels.entrySet()) {
                RelTag rel = e.getValue();
                int n = fileBlocks(rel);
                assertEquals(n, c.nblocks(rel, new Lsn(1), true), e.getKey());
                assertTrue(c.exists(rel, new Lsn(1), true));
                List<PageStreamRequest> reqs = new ArrayList<>();
                for (int b = 0; b < n; b++) {
                    reqs.add(new PageStreamRequest.GetPage(true, new Lsn(1), rel, b));
                }
                List<PageStreamResponse> resp = c.pipeline(reqs, 64);
                for (int b = 0; b < n; b++) {
                    PageStreamResponse r = resp.get(b);
                    assertInstanceOf(PageStreamResponse.Page.class, r, e.getKey() + " block " + b + ": " + r);
                    assertArrayEquals(filePage(rel, b), ((PageStreamResponse.Page) r).page(), e.getKey() + " block " + b);
                    pages++;
                }
            }
            assertTrue(pages > 300, pages + " pages compared");
            long dbsize = c.dbSize(rels.get("pgbench_accounts").dbNode(), new Lsn(1), true);
            assertTrue(dbsize >= (long) fileBlocks(rels.get("pgbench_accounts")) * 8192, "dbsize " + dbsize);
        }
    }

    /**
     * The page cache answers a read as of the newest LSN from memory until the WAL changes the
     * block: each update of one row must show in the very next read at its commit LSN, and the
     * version before it must still be there for a read at the LSN before.
     */
    @Test
    void aCachedPageShowsEveryChangeAtTheNextRead() throws Exception {
        pg.psql("create table hot(id int primary key, v text) with (fillfactor = 30)");
        pg.psql("insert into hot values (1, 'marker-start')");
        String[] r = pg.psql("select (select oid from pg_database where datname = current_database()), "
            + "pg_relation_filenode('hot')").split("\\|");
        RelTag hot = new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
        try (PageClient c = client()) {
            Lsn before = pg.flushLsn();
            String previous = "marker-start";
            for (int i = 0; i < 20; i++) {
                byte[] cached = c.getPage(hot, 0, before, true);
                assertTrue(contains(cached, previous), "block 0 as of " + before + " lacks " + previous);
                String marker = String.format("marker-%04d", i);
                pg.psql("update hot set v = '" + marker + "' where id = 1");
                Lsn after = pg.flushLsn();
                assertTrue(contains(c.getPage(hot, 0, after, true), marker), "update " + i + " not seen at " + after);
                assertTrue(!contains(c.getPage(hot, 0, before, false), marker), "update " + i + " seen before it");
                before = after;
                previous = marker;
            }
        }
    }

    static boolean contains(byte[] page, String text) {
        byte[] t = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + t.length <= page.length; i++) {
            for (int j = 0; j < t.length; j++) {
                if (page[i + j] != t[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Test
    void errorsAreResponsesAndTheStreamGoesOn() throws Exception {
        RelTag accounts = rels.get("pgbench_accounts");
        try (PageClient c = client()) {
            List<PageStreamResponse> r = c.pipeline(List.of(
                new PageStreamRequest.GetPage(false, Lsn.INVALID, accounts, 0),
                new PageStreamRequest.GetPage(false, new Lsn(8), accounts, 0),
                new PageStreamRequest.GetPage(true, new Lsn(1), accounts, 1_000_000),
                new PageStreamRequest.Nblocks(true, new Lsn(1), new RelTag(1663, 5, 999999, ForkNumber.MAIN)),
                new PageStreamRequest.Exists(true, new Lsn(1), new RelTag(1663, 5, 999999, ForkNumber.MAIN)),
                new PageStreamRequest.GetPage(true, new Lsn(1), accounts, 0)), 8);
            assertTrue(((PageStreamResponse.Error) r.get(0)).message().contains("0/0"));
            assertTrue(((PageStreamResponse.Error) r.get(1)).message().contains("consistent"));
            assertTrue(((PageStreamResponse.Error) r.get(2)).message().contains("does not exist"));
            assertTrue(((PageStreamResponse.Error) r.get(3)).message().contains("does not exist"));
            assertEquals(new PageStreamResponse.Exists(false), r.get(4));
            assertInstanceOf(PageStreamResponse.Page.class, r.get(5));
        }
    }

    @Test
    void aReadAheadOfTheWalParksAndIsAnsweredWhenTheWalArrives() throws Exception {
        RelTag branches = rels.get("pgbench_branches");
        Lsn ahead = pg.flushLsn().plus(200);
        try (PageClient c = client()) {
            CompletableFuture<byte[]> page = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.getPage(branches, 0, ahead, true);
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(500);
            assertTrue(!page.isDone(), "parked until the WAL reaches " + ahead);
            pg.psql("insert into churn(v) select 'x' from generate_series(1, 100)");
            assertEquals(8192, page.get(20, TimeUnit.SECONDS).length);
        }
    }

    @Test
    void twoHundredPipelinedConnectionsWhileIngestRuns() throws Exception {
        RelTag accounts = rels.get("pgbench_accounts");
        int blocks = fileBlocks(accounts);
        AtomicBoolean writing = new AtomicBoolean(true);
        CompletableFuture<Void> ingest = CompletableFuture.runAsync(() -> {
            try {
                while (writing.get()) {
                    pg.psql("insert into churn(v) select repeat('y', 200) from generate_series(1, 2000)");
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(200);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 200; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    try (PageClient c = client()) {
                        List<PageStreamRequest> reqs = new ArrayList<>();
                        List<Integer> blk = new ArrayList<>();
                        for (int i = 0; i < 20; i++) {
                            int b = rnd.nextInt(blocks);
                            blk.add(b);
                            reqs.add(new PageStreamRequest.GetPage(true, new Lsn(1), accounts, b));
                        }
                        List<PageStreamResponse> resp = c.pipeline(reqs, 10);
                        for (int i = 0; i < resp.size(); i++) {
                            assertArrayEquals(filePage(accounts, blk.get(i)), ((PageStreamResponse.Page) resp.get(i)).page());
                        }
                        return resp.size();
                    }
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(120, TimeUnit.SECONDS);
            }
            assertEquals(4000, total);
        } finally {
            writing.set(false);
            pool.shutdownNow();
            ingest.get(60, TimeUnit.SECONDS);
        }
    }

    /** A raw pgwire connection in pagestream mode, for what real clients never send. */
    static final class Raw implements AutoCloseable {
        final Socket s;
        final OutputStream out;
        final DataInputStream in;
        final PgFrameDecoder dec = PgFrameDecoder.forClient(1 << 20);

        Raw() throws IOException {
            s = new Socket("127.0.0.1", ps.port());
            s.setSoTimeout(20000);
            out = s.getOutputStream();
            in = new DataInputStream(s.getInputStream());
            out.write(new FrontendMessage.StartupMessage(Map.of("user", "postgres", "database", "postgres")).toBytes());
            while (!(next() instanceof BackendMessage.ReadyForQuery)) {
                // authentication, parameters
            }
            out.write(new FrontendMessage.Query("pagestream " + systemId).toBytes());
            Object m = next();
            assertInstanceOf(BackendMessage.CopyBothResponse.class, m);
        }

        Object next() throws IOException {
            byte[] buf = new byte[8192];
            while (true) {
                PgFrame f = dec.next();
                if (f != null) {
                    return BackendMessage.parse(f);
                }
                int n = in.read(buf);
                if (n < 0) {
                    return null;
                }
                dec.feed(buf, 0, n);
            }
        }

        void send(byte[] payload) throws IOException {
            out.write(new CopyData(payload).toBytes());
            out.flush();
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    /** A CopyData longer than any request is no request: FATAL 08P01 from its header, connection closed. */
    @Test
    void aCopyDataLongerThanTheLongestRequestClosesTheConnection() throws Exception {
        try (Raw raw = new Raw(); PageClient bystander = client()) {
            raw.out.write(java.nio.ByteBuffer.allocate(5).put((byte) 'd').putInt(4 + PageStreamRequest.MAX_SIZE + 1)
                .array()); // the header only: the server answers without waiting for the body
            raw.out.flush();
            BackendMessage.ErrorResponse e = assertInstanceOf(BackendMessage.ErrorResponse.class, raw.next());
            assertEquals("08P01", e.sqlState(), e.message());
            assertNull(raw.next());
            assertEquals(8192, bystander.getPage(rels.get("pgbench_branches"), 0, new Lsn(1), true).length);
        }
    }

    @Test
    void garbageRequestsGetAnErrorResponseAndCloseOnlyThatStream() throws Exception {
        byte[][] garbage = {
            {},
            {9, 0, 0, 0, 0, 0, 0, 0, 0, 1},
            {2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
            {0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
            new byte[PageStreamRequest.MAX_SIZE - 1],
        };
        for (byte[] g : garbage) {
            try (Raw raw = new Raw()) {
                raw.send(g);
                Object m = raw.next();
                assertInstanceOf(CopyData.class, m);
                PageStreamResponse r = PageStreamResponse.parse(((CopyData) m).data());
                assertInstanceOf(PageStreamResponse.Error.class, r);
                // the stream ends after it: CopyDone (or the connection closes)
                Object end = raw.next();
                assertTrue(end == null || end instanceof CopyDone || end instanceof BackendMessage.ErrorResponse,
                    String.valueOf(end));
            }
        }
        // others are untouched
        try (PageClient c = client()) {
            assertEquals(8192, c.getPage(rels.get("pgbench_branches"), 0, new Lsn(1), true).length);
        }
    }

    @Test
    void aClientThatStopsReadingDoesNotStallTheOthers() throws Exception {
        RelTag accounts = rels.get("pgbench_accounts");
        try (Raw slow = new Raw()) {
            // write 64 MB of requests and never read: the responses fill the socket buffers, then the
            // server stops reading it; the writer thread blocks, which is fine
            Thread writer = new Thread(() -> {
                try {
                    byte[] req = new PageStreamRequest.GetPage(true, new Lsn(1), accounts, 0).write();
                    for (int i = 0; i < 2_000_000; i++) {
                        slow.send(req);
                    }
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            writer.setDaemon(true);
            writer.start();
            Thread.sleep(2000);
            long worst = 0;
            try (PageClient c = client()) {
                for (int i = 0; i < 50; i++) {
                    long t0 = System.nanoTime();
                    assertEquals(8192, c.getPage(accounts, i, new Lsn(1), true).length);
                    worst = Math.max(worst, System.nanoTime() - t0);
                }
            }
            assertTrue(worst < TimeUnit.SECONDS.toNanos(2), "slowest read " + worst / 1_000_000 + " ms");
            assertTrue(writer.isAlive(), "the slow client's writes are blocked: the server stopped reading it");
        }
    }

    @Test
    void unknownTenantIsRefused() {
        SQLException e = assertThrows(SQLException.class,
            () -> PageClient.connect(ps.url(), "postgres", null, new SystemId(424242)));
        assertEquals("42704", e.getSQLState());
    }
}
