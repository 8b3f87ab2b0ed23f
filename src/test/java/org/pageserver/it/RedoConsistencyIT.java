package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;

/**
 * Redo against PostgreSQL's strongest oracle: a primary with wal_consistency_checking = all
 * runs a workload producing every heap, heap2 and sequence record type and every B-tree one
 * (inserts, splits both ways, new roots, deduplication, posting lists, vacuum, page deletion),
 * with VACUUM FULL, CLUSTER, TRUNCATE, unlogged tables, two-phase commit, CREATE DATABASE with
 * both strategies, DROP DATABASE, a relation truncated by VACUUM and a hash index (not redone
 * here: counted apart) among it; for every record that carries a consistency image, our redo
 * of the page before it equals that image after the rmgr's mask, and every record passes the
 * ingest check (RecordCheck), so that no real PG15 record can stop a tenant.
 */
class RedoConsistencyIT {
    static final String WORKLOAD = """
        create table t(id int primary key, v text, n int);
        insert into t select g, 'v' || g, g from generate_series(1, 3000) g;
        update t set n = n + 1 where id % 7 = 0;
        update t set v = repeat('w', 200) where id % 11 = 0;
        delete from t where id % 13 = 0;
        insert into t select g, repeat('x', 5000), g from generate_series(3001, 3010) g;
        copy t from program 'seq 4001 4600 | awk ''{print $1"\\tc\\t"$1}''';
        begin; select count(*) from (select * from t where id < 50 for update) s; commit;
        begin; select count(*) from (select * from t where id between 50 and 80 for share) s; commit;
        begin; select count(*) from (select * from t where id between 80 and 90 for key share) s; commit;
        insert into t values (1, 'dup', 0) on conflict (id) do update set n = t.n + 100;
        insert into t values (5000, 'new', 0) on conflict (id) do nothing;
        vacuum t;
        update t set n = n + 1 where id < 500;
        vacuum freeze t;
        delete from t where id > 4500;
        vacuum t;
        create table u (a int, b text) with (fillfactor = 50);
        insert into u select g, 'u' from generate_series(1, 2000) g;
        update u set b = 'hot' where a % 3 = 0;
        update u set b = 'hot2' where a % 3 = 0;
        vacuum u;
        truncate u;
        insert into u select g, 'again' from generate_series(1, 500) g;
        create sequence s; select nextval('s') from generate_series(1, 50);
        create table r (k int, pad text);
        create index r_k on r (k);
        insert into r select (random() * 1000000)::int, 'p' from generate_series(1, 20000);
        delete from r where k % 5 = 0;
        vacuum r;
        create table dd (k int);
        create index dd_k on dd (k);
        insert into dd select g % 10 from generate_series(1, 20000) g;
        delete from dd where random() < 0.3;
        vacuum dd;
        insert into dd select g % 10 from generate_series(1, 5000) g;
        create table pd (k int);
        create index pd_k on pd (k);
        insert into pd select generate_series(1, 5000);
        delete from pd where k < 4500;
        vacuum pd;
        create table vf (id int primary key, v text);
        insert into vf select g, md5(g::text) from generate_series(1, 3000) g;
        delete from vf where id % 3 = 0;
        vacuum full vf;
        cluster vf using vf_pkey;
        update vf set v = 'after cluster' where id % 10 = 0;
        create unlogged table ul (id int primary key, v text);
        insert into ul select g, 'u' from generate_series(1, 500) g;
        begin; create table tp (id int primary key); insert into tp select generate_series(1, 300);
        prepare transaction 'keep';
        begin; insert into vf values (100001, 'prepared'); prepare transaction 'lose';
        commit prepared 'keep';
        rollback prepared 'lose';
        create database cdb_wal strategy wal_log;
        create database cdb_copy strategy file_copy;
        \\c cdb_copy
        create table in_copy (id int primary key);
        insert into in_copy select generate_series(1, 1000);
        \\c postgres
        drop database cdb_wal;
        create table shrink (id int, v text);
        insert into shrink select g, repeat('s', 200) from generate_series(1, 4000) g;
        vacuum freeze shrink;
        delete from shrink where id > 1500;
        vacuum shrink;
        begin; truncate shrink; insert into shrink values (1, 'after truncate'); commit;
        create table hashed (id int);
        insert into hashed select generate_series(1, 2000);
        create index hashed_h on hashed using hash (id);
        insert into hashed select generate_series(1, 200);
        """;

    @Test
    void heapRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("max_prepared_transactions", "5").set("wal_keep_size", "'4GB'").set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            pg.psql("select pg_switch_wal()");
            org.pageserver.redo.ConsistencyCheck result = org.pageserver.redo.ConsistencyCheck.run(
                pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20), 1 << 20);
            System.out.println("RedoConsistencyIT: checked per record type " + result.checked());
            System.out.println("RedoConsistencyIT: images compared per resource manager " + result.checkedPerRmgr()
                + ", records decoded (each passed the ingest check) " + result.records()
                + ", blocks of records not redone here " + result.unsupported());
            assertEquals(List.of(), result.mismatches());
            for (String rmgr : List.of("Database", "Storage", "Transaction", "XLOG", "RelMap", "Hash")) {
                assertTrue(result.records().containsKey(rmgr), rmgr + " records missing: " + result.records());
            }
            for (String type : List.of("Heap/0x0", "Heap/0x10", "Heap/0x20", "Heap/0x40", "Heap/0x50", "Heap/0x60",
                "Heap/0x80", "Heap2/0x10", "Heap2/0x20", "Heap2/0x30", "Heap2/0x40", "Heap2/0x50", "Sequence/0x0",
                "Btree/0x0", "Btree/0x10", "Btree/0x30", "Btree/0x40", "Btree/0x50", "Btree/0x60", "Btree/0x80", "Btree/0xa0", "Btree/0xb0", "Btree/0xc0")) {
                assertTrue(result.checked().containsKey(type), type + " not exercised: " + result.checked());
            }
        }
    }
}
