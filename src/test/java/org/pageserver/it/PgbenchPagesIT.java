package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.pageserver.redo.mask.BufMask;

/**
 * End to end: after pgbench has run on the primary (imported before it, followed through it),
 * every block of every pgbench table and primary key index, rebuilt by the pageserver at the
 * primary's final LSN, equals the primary's own page on disk after CHECKPOINT, masked as
 * heap_mask / btree_mask do (hint bits, pd_prune_xid and LP_DEAD are set without WAL).
 */
class PgbenchPagesIT {
    @TempDir
    Path tmp;

    @Test
    void everyTableAndIndexBlockEqualsThePrimaryAfterCheckpoint() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            pg.pgbench("-i", "-s", "2", "-q");
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.pgbench("-c", "4", "-T", "10");
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            int compared = 0;
            List<String> diffs = new ArrayList<>();
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                for (String table : List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history",
                    "pgbench_accounts_pkey", "pgbench_branches_pkey", "pgbench_tellers_pkey")) {
                    boolean index = table.endsWith("_pkey");
                    String[] r = pg.psql("select (select oid from pg_database where datname = 'postgres'), "
                        + "pg_relation_filenode('" + table + "')").split("\\|");
                    RelTag rel = new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
                    byte[] file = Files.readAllBytes(pg.dataDir().resolve(rel.path()));
                    int n = file.length / 8192;
                    assertEquals(n, c.nblocks(rel, end, false), table);
                    List<PageStreamResponse> resp = PrimaryPages.pagesAt(c, rel, end, n);
                    for (int b = 0; b < n; b++) {
                        if (!(resp.get(b) instanceof PageStreamResponse.Page p)) {
                            diffs.add(table + " block " + b + ": " + resp.get(b));
                            continue;
                        }
                        byte[] ours = p.page().clone();
                        byte[] theirs = Arrays.copyOfRange(file, b * 8192, (b + 1) * 8192);
                        if (index) {
                            BufMask.btreeMask(ours);
                            BufMask.btreeMask(theirs);
                        } else {
                            BufMask.heapMask(ours, b);
                            BufMask.heapMask(theirs, b);
                        }
                        if (!Arrays.equals(ours, theirs)) {
                            diffs.add(table + " block " + b + " differs at byte " + Arrays.mismatch(ours, theirs));
                        }
                        compared++;
                    }
                }
            }
            assertEquals(List.of(), diffs.size() > 20 ? diffs.subList(0, 20) : diffs);
            assertTrue(compared > 300, compared + " pages compared");
        }
    }
}
