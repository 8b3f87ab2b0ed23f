package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.pageserver.redo.mask.BufMask;

/**
 * End to end over ordinary DDL and maintenance: VACUUM, VACUUM FULL, CLUSTER, TRUNCATE,
 * unlogged tables, sequences, two-phase commit creating and dropping tables, CREATE DATABASE
 * with both strategies (and writes in the new databases), DROP DATABASE. After CHECKPOINT,
 * for every database, every relation with storage that the primary has: its main, visibility
 * map and init forks exist on the pageserver with the primary's size, and every block, rebuilt
 * at the final LSN, equals the primary's file under the rmgr's mask (heap_mask, btree_mask,
 * seq_mask; VM pages exactly). Unlogged relations: the init fork only (their main fork is not
 * WAL-logged; a compute recreates it from the init fork). Free space maps are not WAL-logged
 * and are left out, as PostgreSQL's own standbys leave them. The dropped database's relations
 * exist before its DROP and not after.
 */
class WorkloadPagesIT {
    @TempDir
    Path tmp;

    record Rel(String db, String name, RelTag rel, char kind, int am, char persistence) {
    }

    @Test
    void everyBlockOfEveryDatabaseEqualsThePrimaryAfterCheckpoint() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("max_prepared_transactions", "5").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psqlScript("""
                create table big (id int primary key, v text, w int);
                insert into big select g, repeat('v', 50 + g % 50), g % 97 from generate_series(1, 20000) g;
                create index big_w on big (w);
                update big set v = v || 'u' where id % 3 = 0;
                delete from big where id % 5 = 0;
                vacuum big;
                create table rewritten (id int primary key, v text);
                insert into rewritten select g, md5(g::text) from generate_series(1, 5000) g;
                delete from rewritten where id % 2 = 0;
                vacuum full rewritten;
                create index rewritten_v on rewritten (v);
                cluster rewritten using rewritten_v;
                insert into rewritten select g, md5(g::text) from generate_series(100001, 101000) g;
                create unlogged table ul (id int primary key, v text);
                insert into ul select g, 'x' from generate_series(1, 1000) g;
                create table tr (id int);
                insert into tr select generate_series(1, 3000);
                begin; truncate tr; insert into tr values (1); commit;
                create sequence s;
                select nextval('s') from generate_series(1, 100);
                begin; create table tp (id int primary key); insert into tp select generate_series(1, 500);
                prepare transaction 'keep';
                begin; create table tq (id int primary key); insert into tq select generate_series(1, 500);
                prepare transaction 'lose';
                commit prepared 'keep';
                rollback prepared 'lose';
                create database db_wal strategy wal_log;
                create database db_copy strategy file_copy;
                create database db_drop strategy file_copy;
                \\c db_copy
                create table in_copy (id int primary key, v text);
                insert into in_copy select g, 'c' from generate_series(1, 2000) g;
                vacuum freeze in_copy;
                \\c db_wal
                create table in_wal (id int primary key);
                insert into in_wal select generate_series(1, 2000);
                \\c postgres
                vacuum freeze big;
                """);
            int dropOid = Integer.parseInt(pg.psql("select oid from pg_database where datname = 'db_drop'"));
            RelTag dropped = new RelTag(1663, dropOid, Integer.parseInt(
                psqlIn(pg, "db_drop", "select pg_relation_filenode('pg_class')")), ForkNumber.MAIN);
            Lsn beforeDrop = pg.flushLsn();
            pg.psql("drop database db_drop");
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));

            Map<String, Integer> compared = new TreeMap<>();
            List<String> diffs = new ArrayList<>();
            int relations = 0;
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                assertTrue(c.exists(dropped, beforeDrop, false), "pg_class of db_drop before the DROP");
                assertFalse(c.exists(dropped, end, false), "pg_class of db_drop after the DROP");
                for (String db : List.of("postgres", "template1", "db_wal", "db_copy")) {
                    for (Rel r : relations(pg, db)) {
                        relations++;
                        List<ForkNumber> forks = r.persistence() == 'u' ? List.of(ForkNumber.INIT)
                            : List.of(ForkNumber.MAIN, ForkNumber.VISIBILITYMAP);
                        for (ForkNumber f : forks) {
                            RelTag rel = r.rel().withFork(f);
                            Path file = pg.dataDir().resolve(rel.path());
                            boolean onPrimary = Files.exists(file);
                            if (c.exists(rel, end, false) != onPrimary) {
                                diffs.add(db + "." + r.name() + " " + f + ": exists on the primary " + onPrimary);
                                continue;
                            }
                            if (!onPrimary) {
                                continue;
                            }
                            compare(c, db, r, rel, Files.readAllBytes(file), end, compared, diffs);
                        }
                    }
                }
            }
            System.out.println("WorkloadPagesIT: " + relations + " relations, pages compared " + compared
                + ", differences " + diffs.size());
            assertEquals(List.of(), diffs.size() > 20 ? diffs.subList(0, 20) : diffs);
            assertTrue(relations > 600, relations + " relations");
            assertTrue(compared.getOrDefault("heap", 0) > 1500, compared.toString());
            assertTrue(compared.getOrDefault("btree", 0) > 500, compared.toString());
            assertTrue(compared.getOrDefault("vm", 0) > 10, compared.toString());
            assertTrue(compared.getOrDefault("init", 0) >= 2, compared.toString());
        }
    }

    static void compare(PageClient c, String db, Rel r, RelTag rel, byte[] file, Lsn end, Map<String, Integer> compared,
                        List<String> diffs) throws Exception {
        int n = file.length / 8192;
        int ours = c.nblocks(rel, end, false);
        if (ours != n) {
            diffs.add(db + "." + r.name() + " " + rel.fork() + ": " + ours + " blocks, the primary " + n);
            return;
        }
        List<PageStreamRequest> reqs = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            reqs.add(new PageStreamRequest.GetPage(false, end, rel, b));
        }
        List<PageStreamResponse> resp = c.pipeline(reqs, 32);
        String kind = rel.fork() == ForkNumber.VISIBILITYMAP ? "vm" : rel.fork() == ForkNumber.INIT ? "init"
            : r.kind() == 'S' ? "sequence" : r.am() == 403 ? "btree" : "heap";
        for (int b = 0; b < n; b++) {
            if (!(resp.get(b) instanceof PageStreamResponse.Page p)) {
                diffs.add(db + "." + r.name() + " " + rel.fork() + " block " + b + ": " + resp.get(b));
                continue;
            }
            byte[] mine = p.page().clone();
            byte[] theirs = Arrays.copyOfRange(file, b * 8192, (b + 1) * 8192);
            if (rel.fork() == ForkNumber.VISIBILITYMAP) {
                // no rm_mask for the VM; only the checksum field is not WAL-logged
                BufMask.maskPageLsnAndChecksum(mine);
                BufMask.maskPageLsnAndChecksum(theirs);
                if (db.equals("db_wal")) {
                    // CREATE DATABASE ... WAL_LOG logs every copied page as a standard page
                    // (RelationCopyStorageUsingBuffer: log_newpage_buffer(buf, true)), and a VM
                    // page's bits lie in its "hole" after pd_lower: the WAL does not carry them,
                    // so neither this server nor a PostgreSQL standby has them. Safe (a clear
                    // bit only means "check the heap"): ours may lack bits, never have extra.
                    for (int i = 24; i < 8192; i++) {
                        if ((mine[i] & ~theirs[i]) != 0) {
                            diffs.add(db + "." + r.name() + " vm block " + b + " has bits the primary lacks at " + i);
                            break;
                        }
                    }
                    compared.merge("vm", 1, Integer::sum);
                    continue;
                }
            } else if (r.am() == 403) {
                BufMask.btreeMask(mine);
                BufMask.btreeMask(theirs);
            } else if (r.kind() == 'S') {
                // nextval WAL-logs the value 32 calls ahead (SEQ_LOG_VALS) while the primary's page
                // holds the value handed out: every standby's sequence is ahead, by design.
                // RedoConsistencyIT checks sequence redo record by record instead.
                compared.merge("sequence (size only)", 1, Integer::sum);
                continue;
            } else {
                BufMask.heapMask(mine, b);
                BufMask.heapMask(theirs, b);
            }
            if (!Arrays.equals(mine, theirs)) {
                int at = Arrays.mismatch(mine, theirs);
                diffs.add(db + "." + r.name() + " " + rel.fork() + " block " + b + " differs at byte " + at
                    + " (ours " + (mine[at] & 0xFF) + ", the primary's " + (theirs[at] & 0xFF) + ")");
            }
            compared.merge(kind, 1, Integer::sum);
        }
    }

    /** Every relation with storage in {@code db}, heap or btree (all this workload has). */
    static List<Rel> relations(PgCluster pg, String db) throws Exception {
        String oid = pg.psql("select oid from pg_database where datname = '" + db + "'");
        List<Rel> out = new ArrayList<>();
        String rows = psqlIn(pg, db, "select relname, case when reltablespace = 0 then 1663 else reltablespace end, "
            + "pg_relation_filenode(oid), relkind, relam, relpersistence from pg_class "
            + "where pg_relation_filenode(oid) is not null and relkind in ('r', 't', 'm', 'i', 'S')");
        for (String line : rows.split("\n")) {
            String[] f = line.split("\\|");
            int spc = Integer.parseInt(f[1]);
            int dbNode = spc == RelTag.GLOBALTABLESPACE_OID ? 0 : Integer.parseInt(oid);
            int am = Integer.parseInt(f[4]);
            if (f[3].charAt(0) == 'i' && am != 403) {
                throw new IllegalStateException("not a btree index: " + line);
            }
            out.add(new Rel(db, f[0], new RelTag(spc, dbNode, Integer.parseInt(f[2]), ForkNumber.MAIN), f[3].charAt(0), am,
                f[5].charAt(0)));
        }
        return out;
    }

    static String psqlIn(PgCluster pg, String db, String sql) throws Exception {
        return pg.psqlScript("\\c " + db + "\n" + sql + ";\n").trim();
    }
}
