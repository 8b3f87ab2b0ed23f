package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;

/**
 * Relation existence and size as of any LSN follow CREATE, VACUUM truncation, TRUNCATE and DROP
 * on the primary: checked against the primary's own files.
 */
class RelationSizesIT {
    @TempDir
    Path tmp;

    static RelTag rel(PgCluster pg, String name) throws Exception {
        String[] r = pg.psql("select (select oid from pg_database where datname = 'postgres'), pg_relation_filenode('"
            + name + "')").split("\\|");
        return new RelTag(1663, Integer.parseInt(r[0]), Integer.parseInt(r[1]), ForkNumber.MAIN);
    }

    static long fileBlocks(PgCluster pg, RelTag rel) throws Exception {
        Path f = pg.dataDir().resolve(rel.path());
        return Files.exists(f) ? Files.size(f) / 8192 : -1;
    }

    @Test
    void createTruncateVacuumAndDropAreFollowed() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psqlScript("""
                create table a (id int, v text);
                insert into a select g, repeat('a', 100) from generate_series(1, 5000) g;
                create table b (id int, v text);
                insert into b select g, repeat('b', 100) from generate_series(1, 5000) g;
                vacuum b;
                create table c (id int);
                insert into c select generate_series(1, 1000);
                create table d (id int);
                """);
            RelTag c = rel(pg, "c");
            Lsn beforeDrop = pg.flushLsn();
            RelTag aOld = rel(pg, "a");
            pg.psqlScript("""
                delete from b where id > 100;
                vacuum b;
                drop table c;
                truncate a;
                insert into a values (1, 'x');
                checkpoint;
                """);
            ps.awaitDurable(pg.flushLsn(), Duration.ofSeconds(30));
            try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
                Lsn latest = new Lsn(1);
                for (String name : new String[] {"a", "b", "d"}) {
                    RelTag main = rel(pg, name);
                    for (ForkNumber f : new ForkNumber[] {ForkNumber.MAIN, ForkNumber.VISIBILITYMAP}) {
                        RelTag r = main.withFork(f);
                        long blocks = fileBlocks(pg, r);
                        assertEquals(blocks >= 0, client.exists(r, latest, true), name + " " + f + " exists");
                        if (blocks >= 0) {
                            assertEquals(blocks, client.nblocks(r, latest, true), name + " " + f + " nblocks");
                        }
                    }
                }
                assertTrue(fileBlocks(pg, rel(pg, "b")) < 30, "vacuum truncated b");
                assertFalse(client.exists(c, latest, true), "dropped");
                assertTrue(client.exists(c, beforeDrop, false), "existed before the drop");
                assertEquals(5, client.nblocks(c, beforeDrop, false));
                assertFalse(client.exists(aOld, latest, true), "TRUNCATE dropped the old relfilenode");
                assertTrue(client.nblocks(aOld, beforeDrop, false) > 50);
                // a page of the truncated-then-refilled table, rebuilt from its new relfilenode
                byte[] page = client.getPage(rel(pg, "a"), 0, latest, true);
                byte[] file = Files.readAllBytes(pg.dataDir().resolve(rel(pg, "a").path()));
                assertEquals(8192, file.length);
                org.junit.jupiter.api.Assertions.assertArrayEquals(file, page);
            }
        }
    }
}
