package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;

/** A pageserver's pages of a tenant compared with its primary's files, for the tests that lose nothing. */
final class PrimaryPages {
    private PrimaryPages() {
    }

    /**
     * Nothing writes any more: autovacuum (on during the load, for its WAL too) turned off and
     * its workers gone, pgbench's backends ended, so the primary's files after a checkpoint are
     * the pages as of its flush LSN.
     */
    static void quiesce(PgCluster pg) throws Exception {
        pg.psql("alter system set autovacuum = off");
        pg.psql("select pg_reload_conf()");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!pg.psql("select count(*) from pg_stat_activity where backend_type = 'autovacuum worker' "
            + "or (backend_type = 'client backend' and pid <> pg_backend_pid())").equals("0")) {
            assertTrue(System.nanoTime() < deadline, "the primary's backends did not end");
            Thread.sleep(100);
        }
    }

    /** Waits until a pageserver has stored the WAL up to an LSN. */
    interface DurableWait {
        void await(Lsn lsn) throws Exception;
    }

    /**
     * The end of a test that loses nothing, once its load has stopped: the primary quiesced and
     * checkpointed, the pageserver caught up with its flush LSN, then every block compared
     * ({@link #compareAllRelations}): none may differ, and more than 500 must have been read.
     * Prints {@code <who>: at <lsn> N blocks compared, M differ}.
     */
    static void assertAllRelationsEqual(String who, PgCluster pg, String pageserverUrl, SystemId id,
                                        DurableWait durable) throws Exception {
        quiesce(pg);
        pg.psql("checkpoint");
        Lsn end = pg.flushLsn();
        durable.await(end);
        List<String> diffs = new ArrayList<>();
        int compared = compareAllRelations(pg, pageserverUrl, id, end, diffs);
        System.out.println(who + ": at " + end + " " + compared + " blocks compared, " + diffs.size() + " differ");
        org.junit.jupiter.api.Assertions.assertEquals(List.of(), diffs.subList(0, Math.min(20, diffs.size())));
        assertTrue(compared > 500, compared + " blocks compared");
    }

    /**
     * Every block of the main fork of every permanent heap and btree relation with a file of its
     * own (not the mapped catalogs) in database postgres, read as of {@code end} exactly (not
     * "latest", which would answer with newer pages) from the pageserver at
     * {@code pageserverUrl}, against the primary's file; appends what differs to {@code diffs},
     * returns the blocks compared.
     */
    /** Blocks 0 to n - 1 of {@code rel} as of {@code end}, 32 requests in flight. */
    static List<PageStreamResponse> pagesAt(PageClient c, RelTag rel, Lsn end, int n) throws Exception {
        List<PageStreamRequest> reqs = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            reqs.add(new PageStreamRequest.GetPage(false, end, rel, b));
        }
        return c.pipeline(reqs, 32);
    }

    static int compareAllRelations(PgCluster pg, String pageserverUrl, SystemId id, Lsn end, List<String> diffs)
        throws Exception {
        String rows = pg.psql("select c.relname, c.relam, coalesce(nullif(c.reltablespace, 0), "
            + "(select dattablespace from pg_database where datname = current_database())), "
            + "(select oid from pg_database where datname = current_database()), c.relfilenode "
            + "from pg_class c where c.relfilenode <> 0 and c.relpersistence = 'p' and c.relam in (2, 403) "
            + "order by c.relname");
        int compared = 0;
        try (PageClient c = PageClient.connect(pageserverUrl, "postgres", null, id)) {
            for (String row : rows.split("\n")) {
                String[] f = row.split("\\|");
                boolean btree = f[1].equals("403");
                RelTag rel = new RelTag(Integer.parseInt(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4]),
                    ForkNumber.MAIN);
                byte[] file = Files.readAllBytes(pg.dataDir().resolve(rel.path()));
                int n = file.length / 8192;
                int ours = c.nblocks(rel, end, false);
                if (ours != n) {
                    diffs.add(f[0] + ": " + ours + " blocks, the primary " + n);
                    continue;
                }
                List<PageStreamResponse> resp = pagesAt(c, rel, end, n);
                for (int b = 0; b < n; b++) {
                    if (!(resp.get(b) instanceof PageStreamResponse.Page p)) {
                        diffs.add(f[0] + " block " + b + ": " + resp.get(b));
                        continue;
                    }
                    byte[] mine = PageMasks.mask(p.page().clone(), btree, b);
                    byte[] theirs = PageMasks.mask(Arrays.copyOfRange(file, b * 8192, (b + 1) * 8192), btree, b);
                    if (!Arrays.equals(mine, theirs)) {
                        diffs.add(f[0] + " block " + b + " differs at byte " + Arrays.mismatch(mine, theirs));
                    }
                    compared++;
                }
            }
        }
        return compared;
    }
}
