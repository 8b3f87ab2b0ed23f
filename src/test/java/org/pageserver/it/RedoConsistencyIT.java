package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * Redo against PostgreSQL's strongest oracle: a primary with wal_consistency_checking = all
 * runs a workload producing every heap, heap2 and sequence record type and every B-tree one
 * (inserts, splits both ways, new roots, deduplication, posting lists, vacuum, page deletion),
 * with VACUUM FULL, CLUSTER, TRUNCATE, unlogged tables, two-phase commit, CREATE DATABASE with
 * both strategies, DROP DATABASE, a relation truncated by VACUUM and a hash index (not redone
 * here: counted apart) among it; for every record that carries a consistency image, our redo
 * of the page before it equals that image after the rmgr's mask, and every record passes the
 * ingest check (RecordCheck), so that no real PG15 record can stop a tenant. The same workload
 * runs on three primaries: wal_level = replica; wal_level = logical with a logical slot being
 * consumed, logical messages and a replication origin (the record parts only such a primary
 * writes); and wal_compression = lz4.
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

    /**
     * What only a logical-level primary writes, after the workload: old keys and old tuples
     * (replica identity default and full), a user catalog table rewritten while a slot needs
     * its old rows (XLOG_HEAP2_REWRITE; catalog changes give XLOG_HEAP2_NEW_CID), logical
     * messages, and a replication origin a session commits under, then advanced and dropped.
     * The slot is consumed before and after.
     */
    static final String LOGICAL_WORKLOAD = """
        select count(*) >= 0 from pg_logical_slot_get_changes('heapxl', null, null);
        create table ri_key (id int primary key, v text);
        insert into ri_key select g, 'k' || g from generate_series(1, 200) g;
        update ri_key set id = id + 1000 where id <= 20;
        delete from ri_key where id > 190;
        create table ri_full (id int, v text);
        alter table ri_full replica identity full;
        insert into ri_full select g, 'f' || g from generate_series(1, 200) g;
        update ri_full set v = 'changed' where id <= 20;
        delete from ri_full where id > 190;
        create table uc (id int primary key, v text) with (user_catalog_table = true);
        insert into uc select g, 'c' || g from generate_series(1, 500) g;
        update uc set v = 'again' where id % 2 = 0;
        vacuum full uc;
        select pg_logical_emit_message(true, 'heapxl', 'in a transaction');
        select pg_logical_emit_message(false, 'heapxl', 'on its own');
        select pg_logical_emit_message(false, 'heapxl', '\\x00ff'::bytea);
        begin; select pg_logical_emit_message(true, 'heapxl', 'rolled back'); rollback;
        checkpoint;
        select pg_replication_origin_create('heapxl_origin');
        select pg_replication_origin_session_setup('heapxl_origin');
        begin;
        select pg_replication_origin_xact_setup('0/AB000000', now());
        insert into ri_key values (5000, 'from the origin');
        commit;
        insert into ri_full values (5001, 'from the origin too');
        select pg_replication_origin_session_reset();
        select pg_replication_origin_advance('heapxl_origin', '0/AC000000');
        select pg_replication_origin_drop('heapxl_origin');
        select count(*) >= 0 from pg_logical_slot_get_changes('heapxl', null, null);
        """;

    static PgCluster.Builder primary() {
        return PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("max_prepared_transactions", "5").set("wal_keep_size", "'4GB'")
            .set("max_wal_size", "'4GB'");
    }

    /** Runs {@code setup}, then from a checkpoint on the workload and {@code more}, and checks every record of it. */
    static ConsistencyCheck run(PgCluster.Builder b, String setup, String more) throws Exception {
        try (PgCluster pg = b.start()) {
            if (!setup.isEmpty()) {
                pg.psql(setup);
            }
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD + more);
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            System.out.println("RedoConsistencyIT: checked per record type " + result.checked());
            System.out.println("RedoConsistencyIT: images compared per resource manager " + result.checkedPerRmgr()
                + ", records decoded (each passed the ingest check) " + result.records()
                + ", blocks of records not redone here " + result.unsupported() + ", record parts " + result.parts());
            assertEquals(List.of(), result.mismatches());
            for (String rmgr : List.of("Database", "Storage", "Transaction", "XLOG", "RelMap", "Hash")) {
                assertTrue(result.records().containsKey(rmgr), rmgr + " records missing: " + result.records());
            }
            for (String type : List.of("Heap/0x0", "Heap/0x10", "Heap/0x20", "Heap/0x40", "Heap/0x50", "Heap/0x60",
                "Heap/0x80", "Heap2/0x10", "Heap2/0x20", "Heap2/0x30", "Heap2/0x40", "Heap2/0x50", "Sequence/0x0",
                "Btree/0x0", "Btree/0x10", "Btree/0x30", "Btree/0x40", "Btree/0x50", "Btree/0x60", "Btree/0x80",
                "Btree/0xa0", "Btree/0xb0", "Btree/0xc0")) {
                assertTrue(result.checked().containsKey(type), type + " not exercised: " + result.checked());
            }
            return result;
        }
    }

    @Test
    void heapRedoEqualsTheConsistencyImages() throws Exception {
        run(primary(), "", "");
    }

    @Test
    void aLogicalLevelPrimarysRecordsPassAndRedoToo() throws Exception {
        ConsistencyCheck result = run(primary().set("wal_level", "logical"),
            "select pg_create_logical_replication_slot('heapxl', 'test_decoding')", LOGICAL_WORKLOAD);
        List<String> logicalTypes = List.of("LogicalMessage/0x0", "ReplicationOrigin/0x0", "ReplicationOrigin/0x10",
            "Heap2/0x0", "Heap2/0x70");
        System.out.println("RedoConsistencyIT: logical-level record types " + logicalTypes.stream()
            .map(t -> t + "=" + result.recordTypes().get(t)).toList());
        for (String type : logicalTypes) {
            assertTrue(result.recordTypes().containsKey(type), type + " not written: " + result.recordTypes());
        }
        for (String part : List.of("Heap DELETE old key", "Heap DELETE old tuple", "Heap UPDATE old key",
            "Heap UPDATE old tuple", "Heap INSERT tuple kept with an applied image",
            "Transaction record under a replication origin", "Heap record under a replication origin")) {
            assertTrue(result.parts().containsKey(part), part + " not written: " + result.parts());
        }
    }

    @Test
    void lz4CompressedImagesToo() throws Exception {
        ConsistencyCheck result = run(primary().set("wal_compression", "lz4"), "", "");
        assertTrue(result.parts().getOrDefault("lz4 image", 0) > 1000, "lz4 images: " + result.parts());
    }
}
