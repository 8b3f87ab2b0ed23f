package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.Lsn;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/**
 * Issue "WAL ingest" end to end against a real PostgreSQL 15: callmemaybe imports a base backup
 * and follows the WAL through pgbench, a killed walsender and a pageserver restart; afterwards
 * every block reference of every record pg_waldump lists is stored, and the raw WAL kept is the
 * primary's own, byte for byte (no gap, no duplicate).
 */
class WalIngestIT {
    @TempDir
    Path tmp;

    @Test
    void followsAPrimaryThroughPgbenchAWalsenderKillAndARestart() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("wal_keep_size", "'2GB'").start()) {
            pg.pgbench("-i", "-s", "2", "-q");
            Path data = tmp.resolve("ps");
            String systemId = pg.pgControlData().lines().filter(l -> l.startsWith("Database system identifier"))
                .map(l -> l.replaceAll(".*:\\s*", "")).findFirst().orElseThrow();

            TestPageServer ps = TestPageServer.start(data);
            try {
                // psql is the client: the same commands an operator types
                assertEquals(systemId, ps.psql("callmemaybe " + pg.conninfo()));
                assertEquals(systemId, ps.psql("callmemaybe " + pg.conninfo()), "callmemaybe is idempotent");
                String[] row = ps.statusRow();
                assertEquals(systemId, row[0]);
                assertEquals("host=127.0.0.1 port=" + pg.port() + " user=postgres dbname=postgres", row[6]);

                CompletableFuture<String> bench = CompletableFuture.supplyAsync(() -> {
                    try {
                        return pg.pgbench("-c", "4", "-T", "20");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                Thread.sleep(5000);
                // the walsender dies: the tenant reconnects by itself and resumes
                assertEquals("t", pg.psql("select bool_or(pg_terminate_backend(pid)) from pg_stat_replication"
                    + " where application_name = 'pageserver'"));
                Thread.sleep(5000);
                ps.close();
                // the pageserver restarts: the tenant re-attaches by itself, without callmemaybe
                ps = TestPageServer.start(data);
                String out = bench.get();
                assertTrue(out.contains("tps"), out);
                Lsn flush = pg.flushLsn();
                ps.awaitDurable(flush, Duration.ofSeconds(60));
                row = ps.statusRow();
                assertEquals("streaming", row[1]);
                assertTrue(!Lsn.parse(row[2]).isBefore(flush) && !Lsn.parse(row[3]).isBefore(flush),
                    String.join("|", row));
                // standby status updates move the slot to what is stored (at least every status-interval)
                String slotQuery = "select restart_lsn >= '" + flush + "' from pg_replication_slots"
                    + " where slot_name = 'pageserver_" + systemId + "'";
                long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
                while (!pg.psql(slotQuery).equals("t") && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertEquals("t", pg.psql(slotQuery), "the slot follows what the pageserver stored");
            } finally {
                ps.close();
            }

            // with the pageserver stopped, its store can be opened and checked against the primary
            Path tenantDir = data.resolve("tenants").resolve(systemId);
            try (TenantStore store = TenantStore.open(tenantDir, true)) {
                TenantMeta meta = store.meta().orElseThrow();
                Lsn durable = store.durableLsn();
                Set<String> stored = new TreeSet<>();
                store.forEachRecordEntry((rel, blk, start, end, change) -> {
                    // implicit VM clears and SLRU pages are kept too, but pg_waldump does not list them
                    if (change instanceof org.pageserver.redo.PageChange.RegisteredBlock) {
                        stored.add(start + " " + Integer.toUnsignedString(rel.spcNode()) + "/"
                            + Integer.toUnsignedString(rel.dbNode()) + "/" + Integer.toUnsignedString(rel.relNode()) + " "
                            + rel.fork().number + " " + Integer.toUnsignedString(blk));
                    }
                });
                Set<String> listed = waldumpBlockRefs(pg.pgWaldump("-s", meta.startLsn().toString(), "-e",
                    durable.toString()));
                assertTrue(listed.size() > 10000, "pg_waldump listed " + listed.size() + " block references");
                assertEquals(listed.size(), stored.size());
                assertEquals(listed, stored);

                Lsn walFrom = meta.startLsn().segmentStart(meta.walSegSize());
                ByteArrayOutputStream raw = new ByteArrayOutputStream();
                store.readWal(walFrom, durable, (at, buf, off, len) -> raw.write(buf, off, len));
                assertArrayEquals(pg.walBytes(walFrom, durable, meta.walSegSize()), raw.toByteArray(),
                    "raw WAL from " + walFrom + " to " + durable);
            }
            assertTrue(Files.exists(tenantDir));
        }
    }

    static final Pattern LSN = Pattern.compile("lsn: ([0-9A-F]+/[0-9A-F]+),");
    static final Pattern BLK = Pattern.compile("blkref #\\d+: rel (\\d+)/(\\d+)/(\\d+)(?: fork (\\w+))? blk (\\d+)");

    static Set<String> waldumpBlockRefs(String listing) {
        Set<String> out = new TreeSet<>();
        for (String line : listing.split("\n")) {
            Matcher m = LSN.matcher(line);
            if (!m.find()) {
                continue;
            }
            Lsn start = Lsn.parse(m.group(1));
            Matcher b = BLK.matcher(line);
            while (b.find()) {
                int fork = switch (b.group(4) == null ? "main" : b.group(4)) {
                    case "main" -> 0;
                    case "fsm" -> 1;
                    case "vm" -> 2;
                    default -> 3;
                };
                out.add(start + " " + b.group(1) + "/" + b.group(2) + "/" + b.group(3) + " " + fork + " " + b.group(5));
            }
        }
        return out;
    }
}
