package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
import org.pageserver.storage.TenantStore;

/**
 * Relations and whole databases in tablespaces other than pg_default: a table and its indexes
 * created in one, an index of every core access method (hash, GIN, GiST, SP-GiST, BRIN) on a
 * table in it, changed after the attach (inserts, deletes, VACUUM, summarization), a table and
 * a B-tree and a hash index moved into one (ALTER ... SET TABLESPACE), a database created in
 * one (WAL_LOG) with GIN and GiST indexes, one moved into it (ALTER DATABASE ... SET
 * TABLESPACE, a FILE_COPY record and a DROP of the old directory), and a tablespace created and
 * dropped. Once with the tablespace created after the pageserver attached (followed through
 * XLOG_TBLSPC_CREATE), once with it there before (imported from the tablespace archives of the
 * base backup). After CHECKPOINT, every block of every relation of those databases equals the
 * primary's file (WorkloadPagesIT's masks: each index under its access method's), the store's
 * tablespaces are the primary's with their locations, and the databases' PG_VERSION and
 * pg_filenode.map are the primary's, in the tablespace.
 */
class TablespaceIT {
    @TempDir
    Path tmp;

    static final String IN_TABLESPACE = """
        create table in_ts (id int primary key, v text) tablespace ts;
        insert into in_ts select g, md5(g::text) from generate_series(1, 5000) g;
        create index in_ts_v on in_ts (v) tablespace ts;
        create table moved (id int primary key, v text);
        insert into moved select g, 'm' from generate_series(1, 3000) g;
        alter table moved set tablespace ts;
        alter index moved_pkey set tablespace ts;
        update moved set v = 'after the move' where id % 10 = 0;
        create table idx (id int, tags int[], p point, t text) tablespace ts;
        insert into idx select g, array[g % 10, g % 7], point(g % 100, g / 100), md5(g::text)
          from generate_series(1, 3000) g;
        create index idx_hash on idx using hash (id) tablespace ts;
        create index idx_gin on idx using gin (tags) tablespace ts;
        create index idx_gist on idx using gist (p) tablespace ts;
        create index idx_spgist on idx using spgist (t) tablespace ts;
        create index idx_brin on idx using brin (id) with (pages_per_range = 1) tablespace ts;
        create index moved_v_hash on moved using hash (v);
        alter index moved_v_hash set tablespace ts;
        create database db_ts tablespace ts;
        \\c db_ts
        create table t_in_db (id int primary key, v text);
        insert into t_in_db select g, 'd' || g from generate_series(1, 2000) g;
        create index t_in_db_gin on t_in_db using gin (to_tsvector('simple', v));
        create index t_in_db_gist on t_in_db using gist (int4range(id, id + 10));
        \\c postgres
        """;

    /** After the attach in both tests: the indexes in the tablespace changed by their records (redo, not images). */
    static final String INDEX_UPDATES = """
        insert into idx select g, array[g % 5], point(g % 50, 1), md5(g::text) from generate_series(3001, 6000) g;
        delete from idx where id % 3 = 0;
        vacuum idx;
        select brin_summarize_new_values('idx_brin');
        update moved set v = 'hashed again' where id % 7 = 0;
        \\c db_ts
        insert into t_in_db select g, 'e' || g from generate_series(2001, 4000) g;
        delete from t_in_db where id % 4 = 0;
        vacuum t_in_db;
        \\c postgres
        """;

    static final String MOVE_AND_DROP = """
        create database db_moving;
        \\c db_moving
        create table mv (id int primary key, v text);
        insert into mv select g, 'before the move' from generate_series(1, 1000) g;
        \\c postgres
        alter database db_moving set tablespace ts;
        \\c db_moving
        update mv set v = 'after the move' where id % 3 = 0;
        \\c postgres
        create table gone (id int) tablespace ts_drop;
        insert into gone select generate_series(1, 100);
        drop table gone;
        """;

    @Test
    void aTablespaceCreatedAfterAttachFollowsThePrimary() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psql("create tablespace ts location '" + pg.tablespaceDirectory("ts") + "'");
            pg.psqlScript(IN_TABLESPACE);
            followAndCompare(pg, ps, id);
        }
    }

    @Test
    void aTablespaceThePrimaryHadBeforeAttachIsImported() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            pg.psql("create tablespace ts location '" + pg.tablespaceDirectory("ts") + "'");
            pg.psqlScript(IN_TABLESPACE);
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psql("insert into in_ts select g, 'after attach' from generate_series(5001, 6000) g");
            followAndCompare(pg, ps, id);
        }
    }

    private void followAndCompare(PgCluster pg, TestPageServer ps, SystemId id) throws Exception {
        pg.psql("create tablespace ts_drop location '" + pg.tablespaceDirectory("ts_drop") + "'");
        Lsn withTsDrop = pg.flushLsn();
        pg.psqlScript(INDEX_UPDATES);
        pg.psqlScript(MOVE_AND_DROP);
        pg.psql("drop tablespace ts_drop");
        pg.psql("checkpoint");
        Lsn end = pg.flushLsn();
        ps.awaitDurable(end, Duration.ofSeconds(60));

        int ts = Integer.parseInt(pg.psql("select oid from pg_tablespace where spcname = 'ts'"));
        Map<String, Integer> compared = new TreeMap<>();
        Map<String, Integer> comparedInTablespace = new TreeMap<>();
        List<String> diffs = new ArrayList<>();
        int inTablespace = 0;
        try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
            for (String db : List.of("postgres", "db_ts", "db_moving")) {
                for (WorkloadPagesIT.Rel r : WorkloadPagesIT.relations(pg, db)) {
                    if (r.rel().spcNode() == ts) {
                        inTablespace++;
                    }
                    for (ForkNumber f : List.of(ForkNumber.MAIN, ForkNumber.VISIBILITYMAP)) {
                        RelTag rel = r.rel().withFork(f);
                        Path file = pg.dataDir().resolve(rel.path());
                        if (c.exists(rel, end, false) != Files.exists(file)) {
                            diffs.add(db + "." + r.name() + " " + f + ": exists on the primary " + Files.exists(file));
                        } else if (Files.exists(file)) {
                            WorkloadPagesIT.compare(c, db, r, rel, Files.readAllBytes(file), end,
                                r.rel().spcNode() == ts ? comparedInTablespace : compared, diffs);
                        }
                    }
                }
            }
        }
        ps.close();
        try (TenantStore store = TenantStore.open(ps.dataDir().resolve("tenants").resolve(id.toString()), false)) {
            Map<Integer, String> theirs = new TreeMap<>();
            for (String line : pg.psql("select oid, pg_tablespace_location(oid) from pg_tablespace "
                + "where spcname not in ('pg_default', 'pg_global')").split("\n")) {
                String[] f = line.split("\\|");
                theirs.put(Integer.parseInt(f[0]), f[1]);
            }
            assertEquals(theirs, store.tablespaces(end));
            assertTrue(store.tablespaces(withTsDrop).size() == 2, "ts_drop before its DROP: " + store.tablespaces(withTsDrop));
            for (String db : List.of("db_ts", "db_moving")) {
                int oid = Integer.parseInt(pg.psql("select oid from pg_database where datname = '" + db + "'"));
                String dir = "pg_tblspc/" + ts + "/PG_15_202209061/" + oid + "/";
                for (String f : List.of("PG_VERSION", "pg_filenode.map")) {
                    assertArrayEquals(Files.readAllBytes(pg.dataDir().resolve(dir + f)), store.file(dir + f, end).orElse(null),
                        dir + f);
                }
                assertTrue(store.files(end).stream().noneMatch(p -> p.startsWith("base/" + oid + "/")),
                    db + " has nothing left in pg_default");
                assertTrue(store.relations(end).keySet().stream().noneMatch(r -> r.dbNode() == oid && r.spcNode() == 1663),
                    db + " has no relation left in pg_default");
            }
        }
        System.out.println("TablespaceIT: " + inTablespace + " relations in the tablespace, blocks compared there "
            + comparedInTablespace + ", elsewhere " + compared + ", differences " + diffs.size());
        assertEquals(List.of(), diffs.size() > 20 ? diffs.subList(0, 20) : diffs);
        assertTrue(inTablespace > 300, inTablespace + " relations in the tablespace (the catalogs of two databases among them)");
        assertTrue(comparedInTablespace.getOrDefault("heap", 0) > 100 && comparedInTablespace.getOrDefault("btree", 0) > 50,
            comparedInTablespace.toString());
        for (String am : List.of("hash", "gin", "gist", "spgist", "brin")) {
            assertTrue(comparedInTablespace.getOrDefault(am, 0) > 0, am + " pages compared in the tablespace: "
                + comparedInTablespace);
        }
    }
}
