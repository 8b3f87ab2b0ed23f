package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
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
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.redo.Page;
import org.pageserver.redo.mask.BufMask;
import org.pageserver.storage.TenantStore;

/**
 * End to end over ordinary DDL and maintenance: VACUUM, VACUUM FULL, CLUSTER, TRUNCATE,
 * unlogged tables, sequences, two-phase commit creating and dropping tables, CREATE DATABASE
 * with both strategies (and writes in the new databases), DROP DATABASE, and an index of
 * every core access method. After CHECKPOINT, for every database, every relation with storage
 * that the primary has: its main, visibility map and init forks exist on the pageserver with
 * the primary's size, and every block, rebuilt at the final LSN, equals the primary's file
 * under the rmgr's mask (heap_mask, btree_mask, hash_mask, gin_mask, gist_mask, spg_mask,
 * brin_mask, seq_mask; VM pages exactly). Unlogged relations: the init fork only (their main fork is not
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
            // in the base backup with a free space map (root, one inner page, one leaf), emptied
            // later: the truncation to 0 heap blocks cuts the FSM to 2 blocks
            pg.psqlScript("""
                create table fsm_small (id int, v text);
                insert into fsm_small select g, repeat('f', 100) from generate_series(1, 3000) g;
                vacuum fsm_small;
                """);
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            Lsn afterBackup = pg.flushLsn();
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
                create table shrink (id int, v text);
                insert into shrink select g, repeat('s', 200) from generate_series(1, 6000) g;
                vacuum freeze shrink;
                delete from shrink where id > 2500;
                vacuum shrink;
                delete from fsm_small;
                vacuum fsm_small;
                create table hashed (id int);
                insert into hashed select generate_series(1, 3000);
                create index hashed_h on hashed using hash (id);
                create table docs (id int, tags int[], p point, t text);
                insert into docs select g, array[g % 10, g % 7], point(g % 100, g / 100), md5(g::text)
                    from generate_series(1, 3000) g;
                create index docs_gin on docs using gin (tags);
                create index docs_gist on docs using gist (p);
                create index docs_spgist on docs using spgist (t);
                create index docs_brin on docs using brin (id);
                insert into docs select g, array[g % 5], point(g % 50, 1), md5(g::text) from generate_series(3001, 4000) g;
                insert into hashed select generate_series(1, 300);
                \\c template1
                create table tmpl_t (id int primary key, v text);
                insert into tmpl_t select g, md5(g::text) from generate_series(1, 3000) g;
                vacuum freeze tmpl_t;
                """);
            Lsn beforeCopy = pg.flushLsn();
            pg.psql("create database db_copy strategy file_copy");
            Lsn afterCopy = pg.flushLsn();
            pg.psqlScript("""
                create database db_wal strategy wal_log;
                create database db_drop strategy file_copy;
                \\c db_copy
                create table in_copy (id int primary key, v text);
                insert into in_copy select g, 'c' from generate_series(1, 2000) g;
                vacuum freeze in_copy;
                update tmpl_t set v = 'changed in the copy' where id % 7 = 0;
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
            Map<String, Integer> dbOids = new TreeMap<>();
            for (String db : List.of("postgres", "template0", "template1", "db_wal", "db_copy")) {
                dbOids.put(db, Integer.parseInt(pg.psql("select oid from pg_database where datname = '" + db + "'")));
            }
            int relations = 0;
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                assertTrue(c.exists(dropped, beforeDrop, false), "pg_class of db_drop before the DROP");
                assertFalse(c.exists(dropped, end, false), "pg_class of db_drop after the DROP");
                fileCopyIsVersioned(pg, c, dbOids.get("template1"), dbOids.get("db_copy"), beforeCopy, afterCopy);
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
            // the heap emptied by VACUUM: 0 blocks, its FSM cut to root and inner page (2
            // blocks) as FreeSpaceMapPrepareTruncateRel does, its VM to 0 blocks; the primary agrees
            RelTag small = new RelTag(1663, dbOids.get("postgres"),
                Integer.parseInt(pg.psql("select pg_relation_filenode('fsm_small')")), ForkNumber.MAIN);
            try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                assertEquals(0, c.nblocks(small, end, false));
                assertEquals(2, c.nblocks(small.withFork(ForkNumber.FSM), end, false));
                assertEquals(2 * 8192, Files.size(pg.dataDir().resolve(small.withFork(ForkNumber.FSM).path())));
                assertEquals(0, c.nblocks(small.withFork(ForkNumber.VISIBILITYMAP), end, false));
                assertTrue(c.nblocks(small.withFork(ForkNumber.FSM), afterBackup, false) > 2,
                    "the FSM before the truncation");
            }
            ps.close();
            // the relation list and the files of every database, straight from the store
            Map<String, Integer> fsm = new TreeMap<>();
            try (TenantStore store = TenantStore.open(ps.dataDir().resolve("tenants").resolve(id.toString()), false)) {
                sameRelationsAndFiles(pg, store, end, dbOids, diffs, fsm);
            }
            int blocks = compared.values().stream().mapToInt(Integer::intValue).sum();
            System.out.println("WorkloadPagesIT: " + relations + " relations in " + dbOids.size() + " databases, " + blocks
                + " blocks compared " + compared
                + ", free space maps " + fsm + ", differences " + diffs.size());
            assertEquals(List.of(), diffs.size() > 20 ? diffs.subList(0, 20) : diffs);
            assertTrue(relations > 600, relations + " relations");
            assertTrue(compared.getOrDefault("heap", 0) > 1500, compared.toString());
            assertTrue(compared.getOrDefault("btree", 0) > 500, compared.toString());
            assertTrue(compared.getOrDefault("vm", 0) > 10, compared.toString());
            assertTrue(compared.getOrDefault("init", 0) >= 2, compared.toString());
            for (String am : List.of("hash", "gin", "gist", "spgist", "brin")) {
                assertTrue(compared.getOrDefault(am, 0) > 0, am + " pages compared: " + compared);
            }
            assertTrue(fsm.getOrDefault("same size", 0) > 100, fsm.toString());
        }
    }

    /** The index access methods of core PostgreSQL (pg_am oids), by their resource manager (its mask). */
    static final Map<Integer, Integer> INDEX_AM_RMGR = Map.of(403, RmgrId.RM_BTREE_ID, 405, RmgrId.RM_HASH_ID,
        2742, RmgrId.RM_GIN_ID, 783, RmgrId.RM_GIST_ID, 4000, RmgrId.RM_SPGIST_ID, 3580, RmgrId.RM_BRIN_ID);
    static final Map<Integer, String> INDEX_AM_NAME = Map.of(403, "btree", 405, "hash", 2742, "gin", 783, "gist",
        4000, "spgist", 3580, "brin");

    /**
     * CREATE DATABASE ... FILE_COPY, versioned: before its record the copy's relation does not
     * exist (and a GetPage says so); after it, it has the template's size and every page is the
     * template's page as of that LSN, byte for byte.
     */
    static void fileCopyIsVersioned(PgCluster pg, PageClient c, int templateOid, int copyOid, Lsn before, Lsn after)
        throws Exception {
        int relNode = Integer.parseInt(psqlIn(pg, "template1", "select pg_relation_filenode('tmpl_t')"));
        RelTag src = new RelTag(1663, templateOid, relNode, ForkNumber.MAIN);
        RelTag copy = new RelTag(1663, copyOid, relNode, ForkNumber.MAIN);
        assertFalse(c.exists(copy, before, false), "the copy before CREATE DATABASE");
        PageStreamResponse r = c.send(new PageStreamRequest.GetPage(false, before, copy, 0));
        assertTrue(r instanceof PageStreamResponse.Error e && e.message().contains("does not exist"), r.toString());
        assertTrue(c.exists(copy, after, false), "the copy after CREATE DATABASE");
        int n = c.nblocks(src, after, false);
        assertTrue(n > 10, n + " blocks");
        assertEquals(n, c.nblocks(copy, after, false));
        for (ForkNumber f : List.of(ForkNumber.MAIN, ForkNumber.VISIBILITYMAP)) {
            for (int b = 0; b < c.nblocks(src.withFork(f), after, false); b++) {
                assertArrayEquals(c.getPage(src.withFork(f), b, after, false), c.getPage(copy.withFork(f), b, after, false),
                    "block " + b + " of the copy's " + f);
            }
        }
    }

    /**
     * The store's relations as of {@code end} are the primary's: per database, the same
     * relfilenodes (pg_class, or the files for template0, which takes no connections), the
     * same main, visibility map and init forks, no relation of a dropped database; the same
     * PG_VERSION and pg_filenode.map files. Free space maps are counted, not required: they
     * are created and extended without WAL.
     */
    static void sameRelationsAndFiles(PgCluster pg, TenantStore store, Lsn end, Map<String, Integer> dbOids,
                                      List<String> diffs, Map<String, Integer> fsm) throws Exception {
        Map<Integer, Set<RelTag>> ours = new TreeMap<>();
        Map<RelTag, Integer> sizes = store.relations(end);
        for (RelTag rel : sizes.keySet()) {
            if (rel.spcNode() != 0) { // not an SLRU
                ours.computeIfAbsent(rel.dbNode(), k -> new TreeSet<>()).add(rel);
            }
        }
        Map<Integer, String> names = new TreeMap<>();
        dbOids.forEach((name, oid) -> names.put(oid, name));
        names.put(0, "global");
        if (!names.keySet().equals(ours.keySet())) {
            diffs.add("databases with relations: ours " + ours.keySet() + ", the primary's " + names);
        }
        for (Map.Entry<Integer, String> db : names.entrySet()) {
            Set<Integer> theirNodes = new TreeSet<>();
            if (db.getKey() == 0) {
                for (String line : pg.psql("select pg_relation_filenode(oid) from pg_class where reltablespace = 1664 "
                    + "and pg_relation_filenode(oid) is not null").split("\n")) {
                    theirNodes.add(Integer.parseInt(line.trim()));
                }
            } else if (db.getValue().equals("template0")) {
                try (Stream<Path> files = Files.list(pg.dataDir().resolve("base").resolve(db.getKey().toString()))) {
                    files.map(f -> f.getFileName().toString()).filter(f -> f.matches("[0-9]+")).forEach(f ->
                        theirNodes.add(Integer.parseInt(f)));
                }
            } else {
                for (Rel r : relations(pg, db.getValue())) {
                    if (r.rel().dbNode() == db.getKey()) {
                        theirNodes.add(r.rel().relNode());
                    }
                }
            }
            Set<RelTag> mine = ours.getOrDefault(db.getKey(), Set.of());
            for (int node : theirNodes) {
                RelTag theirFsm = new RelTag(db.getKey() == 0 ? RelTag.GLOBALTABLESPACE_OID : 1663, db.getKey(), node,
                    ForkNumber.FSM);
                if (Files.exists(pg.dataDir().resolve(theirFsm.path())) && !sizes.containsKey(theirFsm)) {
                    fsm.merge("only on the primary (made without WAL)", 1, Integer::sum);
                }
            }
            Set<Integer> myNodes = new TreeSet<>();
            mine.forEach(r -> myNodes.add(r.relNode()));
            if (!myNodes.equals(theirNodes)) {
                Set<Integer> extra = new TreeSet<>(myNodes);
                extra.removeAll(theirNodes);
                Set<Integer> missing = new TreeSet<>(theirNodes);
                missing.removeAll(myNodes);
                diffs.add(db.getValue() + ": relations only here " + extra + ", only on the primary " + missing);
            }
            for (RelTag rel : mine) {
                Path file = pg.dataDir().resolve(rel.path());
                long primaryBlocks = Files.exists(file) ? Files.size(file) / 8192 : -1;
                if (rel.fork() == ForkNumber.FSM) {
                    fsm.merge(primaryBlocks == sizes.get(rel) ? "same size" : primaryBlocks < 0 ? "none on the primary"
                        : "other size", 1, Integer::sum);
                } else if (primaryBlocks != sizes.get(rel)) {
                    diffs.add(db.getValue() + " " + rel + ": " + sizes.get(rel) + " blocks here, the primary "
                        + (primaryBlocks < 0 ? "has no such file" : primaryBlocks));
                }
            }
            if (db.getKey() != 0) {
                String dir = "base/" + db.getKey() + "/";
                for (String f : List.of("PG_VERSION", "pg_filenode.map")) {
                    byte[] theirs = Files.readAllBytes(pg.dataDir().resolve(dir + f));
                    byte[] mineFile = store.file(dir + f, end).orElse(null);
                    if (!Arrays.equals(theirs, mineFile)) {
                        diffs.add(dir + f + " differs (here " + (mineFile == null ? "missing" : mineFile.length + " bytes") + ")");
                    }
                }
            }
        }
        for (String path : store.files(end)) {
            String[] parts = path.split("/");
            if (parts.length > 1 && parts[0].equals("base") && !names.containsKey(Integer.parseInt(parts[1]))) {
                diffs.add("file of a database the primary does not have: " + path);
            }
        }
    }

    /** The databases of the ITs created with STRATEGY WAL_LOG (PG15's default): their VM bits are not in the WAL. */
    static final Set<String> CREATED_WITH_WAL_LOG = Set.of("db_wal", "db_ts", "db_moving");

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
            : r.kind() == 'S' ? "sequence" : INDEX_AM_NAME.getOrDefault(r.am(), "heap");
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
                if (CREATED_WITH_WAL_LOG.contains(db)) {
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
            } else if (r.am() == 4000 && b == 0) {
                // SP-GiST's meta page caches its last used pages, rewritten without WAL
                // (SpGistUpdateMetaPage): a standby's differs too
                compared.merge("spgist meta (size only)", 1, Integer::sum);
                continue;
            } else if (Page.isNew(mine) || Page.isNew(theirs)) {
                // a block never initialized, compared as it is (no rm_mask takes one: they refuse
                // pd_upper 0): a hash index's splitpoint extends it by writing its last block
                // only (_hash_alloc_buckets), the blocks before stay zeros, here and on the primary
                compared.merge(kind + " (new page)", 1, Integer::sum);
                if (!Arrays.equals(mine, theirs)) {
                    diffs.add(db + "." + r.name() + " " + rel.fork() + " block " + b + ": a new page on one side only");
                }
                continue;
            } else if (INDEX_AM_RMGR.containsKey(r.am())) {
                mine = BufMask.mask(INDEX_AM_RMGR.get(r.am()), mine, b);
                theirs = BufMask.mask(INDEX_AM_RMGR.get(r.am()), theirs, b);
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

    /** Every relation with storage in {@code db}: tables, sequences, and indexes of the core access methods. */
    static List<Rel> relations(PgCluster pg, String db) throws Exception {
        String oid = pg.psql("select oid from pg_database where datname = '" + db + "'");
        List<Rel> out = new ArrayList<>();
        String rows = psqlIn(pg, db, "select relname, case when reltablespace = 0 then (select dattablespace from pg_database "
            + "where datname = current_database()) else reltablespace end, "
            + "pg_relation_filenode(oid), relkind, relam, relpersistence from pg_class "
            + "where pg_relation_filenode(oid) is not null and relkind in ('r', 't', 'm', 'i', 'S')");
        for (String line : rows.split("\n")) {
            String[] f = line.split("\\|");
            int spc = Integer.parseInt(f[1]);
            int dbNode = spc == RelTag.GLOBALTABLESPACE_OID ? 0 : Integer.parseInt(oid);
            int am = Integer.parseInt(f[4]);
            if (f[3].charAt(0) == 'i' && !INDEX_AM_RMGR.containsKey(am)) {
                throw new IllegalStateException("an index of an access method outside core PostgreSQL: " + line);
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
