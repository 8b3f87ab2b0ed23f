package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;

/**
 * Retention end to end, with a 5-second window and a pass every second: under rounds of
 * pgbench the horizon follows the durable LSN, reads below it get the exact error (GetPage,
 * nblocks, exists, dbsize, basebackup), and after the load, with the horizon past most of the
 * history, every block of every pgbench table and index, read as of the newest LSN (the primary
 * is idle: its final LSN, give or take a running-xacts record), equals the primary's. The
 * store's disk use after each round is printed.
 */
class RetentionIT {
    @TempDir
    Path tmp;

    static final int STATUS_HORIZON = 8;

    @Test
    void theHorizonFollowsTheWindowAndPagesAboveItEqualThePrimary() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"), Map.of(
                 "pageserver.retention.window", "5s", "pageserver.compaction.interval", "1s"))) {
            pg.pgbench("-i", "-s", "5", "-q");
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            Lsn early = pg.flushLsn();
            ps.awaitDurable(early, Duration.ofSeconds(60));
            List<Long> disk = new ArrayList<>();
            Lsn midway = null;
            for (int round = 0; round < 6; round++) {
                pg.pgbench("-c", "4", "-T", "5");
                if (round == 2) {
                    midway = pg.flushLsn();
                }
                disk.add(diskBytes(ps.dataDir()));
            }
            System.out.println("RetentionIT: store bytes after each 5 s round of pgbench: " + disk);
            Lsn mid = midway;
            Lsn horizon = awaitHorizon(ps, h -> !h.isBefore(mid), Duration.ofSeconds(60));

            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                RelTag accounts = relation(pg, "pgbench_accounts");
                for (PageStreamRequest r : List.of(new PageStreamRequest.GetPage(false, early, accounts, 0),
                    new PageStreamRequest.Nblocks(false, early, accounts), new PageStreamRequest.Exists(false, early, accounts),
                    new PageStreamRequest.DbSize(false, early, accounts.dbNode()))) {
                    PageStreamResponse resp = c.send(r);
                    assertTrue(resp instanceof PageStreamResponse.Error, r + ": " + resp);
                    assertBelowHorizon(((PageStreamResponse.Error) resp).message(), early, id, ps);
                }
            }
            IOException backup = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> ps.psql("basebackup " + id + " " + early));
            assertTrue(backup.getMessage().contains("LSN " + early + " is below the retention horizon "),
                backup.getMessage());

            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            int compared = 0;
            List<String> diffs = new ArrayList<>();
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                for (String table : List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history",
                    "pgbench_accounts_pkey", "pgbench_branches_pkey", "pgbench_tellers_pkey")) {
                    RelTag rel = relation(pg, table);
                    byte[] file = Files.readAllBytes(pg.dataDir().resolve(rel.path()));
                    int n = file.length / 8192;
                    // latest: the horizon passes `end` a window after the load, while this runs
                    assertEquals(n, c.nblocks(rel, end, true), table);
                    List<PageStreamRequest> reqs = new ArrayList<>();
                    for (int b = 0; b < n; b++) {
                        reqs.add(new PageStreamRequest.GetPage(true, end, rel, b));
                    }
                    List<PageStreamResponse> resp = c.pipeline(reqs, 32);
                    for (int b = 0; b < n; b++) {
                        if (!(resp.get(b) instanceof PageStreamResponse.Page p)) {
                            diffs.add(table + " block " + b + ": " + resp.get(b));
                            continue;
                        }
                        boolean btree = table.endsWith("_pkey");
                        byte[] ours = PageMasks.mask(p.page().clone(), btree, b);
                        byte[] theirs = PageMasks.mask(Arrays.copyOfRange(file, b * 8192, (b + 1) * 8192), btree, b);
                        if (!Arrays.equals(ours, theirs)) {
                            diffs.add(table + " block " + b + " differs at byte " + Arrays.mismatch(ours, theirs));
                        }
                        compared++;
                    }
                }
            }
            System.out.println("RetentionIT: horizon " + horizon + " (early " + early + ", end " + end + "), "
                + compared + " blocks compared, " + diffs.size() + " differ");
            assertEquals(List.of(), diffs.subList(0, Math.min(20, diffs.size())));
            assertTrue(compared > 1000, compared + " blocks compared");
        }
    }

    private static void assertBelowHorizon(String message, Lsn lsn, SystemId id, TestPageServer ps) throws Exception {
        String prefix = "LSN " + lsn + " is below the retention horizon ";
        assertTrue(message.startsWith(prefix) && message.endsWith(" of tenant " + id), message);
        Lsn h = Lsn.parse(message.substring(prefix.length(), message.length() - (" of tenant " + id).length()));
        assertTrue(!h.isAfter(Lsn.parse(ps.statusRow()[STATUS_HORIZON])), message);
    }

    private static Lsn awaitHorizon(TestPageServer ps, java.util.function.Predicate<Lsn> reached, Duration timeout)
        throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Lsn h = Lsn.parse(ps.statusRow()[STATUS_HORIZON]);
            if (reached.test(h)) {
                return h;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("horizon_lsn stayed at " + h + " for " + timeout);
            }
            Thread.sleep(200);
        }
    }

    static RelTag relation(PgCluster pg, String table) throws Exception {
        String[] r = pg.psql("select (select oid from pg_database where datname = 'postgres'), "
            + "pg_relation_filenode('" + table + "')").split("\\|");
        return new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
    }

    private static long diskBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException gone) {
                    return 0;
                }
            }).sum();
        }
    }
}
