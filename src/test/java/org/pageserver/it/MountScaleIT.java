package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The requirement for a pgbench scale-100 database (1.5 GB): a stock PostgreSQL on a
 * clone at a past LSN answers its first query within {@link #FIRST_QUERY_WITHIN} of the mount
 * command's start, and after that query on pgbench_branches the upper directory holds under 5%
 * of the database. The time is a functional requirement of the issue, so it is asserted, with
 * the bound (on a machine shared with other work it can miss by load alone; bench/clone.sh
 * has the figures of a quiet run). The pgbench scale is {@code -Dmount.scale} (default 100).
 */
class MountScaleIT {
    static final Duration FIRST_QUERY_WITHIN = Duration.ofSeconds(5);

    @Test
    void aCloneAnswersWithinSecondsAndCopiesOnlyWhatItTouches() throws Exception {
        int scale = Integer.getInteger("mount.scale", 100);
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Path work = pg.dir();
            try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
                pg.pgbench("-i", "-s", String.valueOf(scale), "-q");
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                pg.pgbench("-c", "2", "-t", "200");
                Lsn at = pg.flushLsn();
                String branches = pg.psql("select sum(bbalance) from pgbench_branches");
                long dbBytes = Long.parseLong(pg.psql("select pg_database_size('postgres')"));
                pg.pgbench("-c", "2", "-t", "200");
                ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(120));

                Path mp = work.resolve("clone");
                Path upper = work.resolve("upper");
                pg.run(List.of("mkdir", mp.toString()), true);
                long t0 = System.nanoTime();
                try (MountCloneIT.MountProcess mount = new MountCloneIT.MountProcess(work, "--port",
                    String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn", at.toString(), "--upper",
                    upper.toString(), "--owner", "postgres", mp.toString())) {
                    MountCloneIT.Compute compute = new MountCloneIT.Compute(pg, mp);
                    compute.start();
                    assertEquals(branches, compute.psql("select sum(bbalance) from pgbench_branches"));
                    long firstQueryMillis = (System.nanoTime() - t0) / 1_000_000;
                    compute.psql("checkpoint"); // what the query dirtied (hint bits) reaches the upper directory
                    long upperBytes = 1024 * Long.parseLong(pg.run(List.of("du", "-sk", upper.toString()), false)
                        .split("\\s+")[0]);
                    compute.stop();
                    System.out.printf("MountScaleIT: scale %d (%d MB): first query %d ms after the command started "
                        + "(ready after %d ms); upper directory %d kB = %.2f%% of the database; %s%n", scale,
                        dbBytes >> 20, firstQueryMillis, mount.readyMillis, upperBytes >> 10, 100.0 * upperBytes / dbBytes,
                        java.nio.file.Files.readString(mount.stderr).trim());
                    assertTrue(upperBytes < dbBytes / 20, upperBytes + " bytes in the upper directory");
                    assertTrue(firstQueryMillis < FIRST_QUERY_WITHIN.toMillis(), "first query after " + firstQueryMillis
                        + " ms");
                }
            }
        }
    }
}
