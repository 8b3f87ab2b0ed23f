package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * GIN redo against wal_consistency_checking = all: GIN indexes on tsvector, on jsonb with both
 * operator classes and on int[], with fastupdate on (a small pending list, filled by single
 * rows and flushed by inserts, VACUUM and gin_clean_pending_list) and off; thousands of rows
 * sharing keys (posting trees created, their leaves split and vacuumed, emptied pages deleted),
 * entry tree splits up to new roots, deletes and VACUUM, an unlogged GIN index and REINDEX
 * INDEX CONCURRENTLY. For every Gin record carrying a consistency image our redo of the page
 * equals it after gin_mask, and every record passes the ingest check.
 */
class GinRedoConsistencyIT {
    static final String WORKLOAD = """
        create table docs (id int, body text, js jsonb, arr int[]);
        create index docs_tsv on docs using gin (to_tsvector('simple', body))
          with (fastupdate = on, gin_pending_list_limit = 64);
        create index docs_js on docs using gin (js jsonb_ops) with (fastupdate = off);
        create index docs_jsp on docs using gin (js jsonb_path_ops) with (fastupdate = on, gin_pending_list_limit = 64);
        create index docs_arr on docs using gin (arr) with (fastupdate = off);
        insert into docs select g, 'common word' || (g % 50) || ' ' || md5(g::text),
          jsonb_build_object('k', g % 2, 'tag', 'x' || (g % 100)), array[g % 2, g % 7, g]
          from generate_series(1, 5000) g;
        -- a row of 400 words: its pending tuples make a sublist of several pages
        insert into docs select 9999, (select string_agg(md5(i::text), ' ') from generate_series(1, 400) i), '{}', '{}';
        select gin_clean_pending_list('docs_tsv'::regclass) >= 0;
        delete from docs where id % 4 = 0 or id between 1000 and 1500;
        vacuum docs;
        insert into docs select g, 'common after vacuum', '{"k": 1}', array[1] from generate_series(20001, 20300) g;
        -- keys of 1984 characters, four to a page: the entry tree splits above its leaves
        create table longkeys (t text[]);
        create index longkeys_t on longkeys using gin (t) with (fastupdate = off);
        insert into longkeys select array[(select string_agg(md5((g * 100 + i)::text), '') from generate_series(1, 62) i)]
          from generate_series(1, 100) g;
        -- an entry's posting list built by CREATE INDEX outgrows its tuple: a posting tree
        create table grow (k int[]);
        copy grow from program 'seq 1 2600 | awk ''{print "{7}"}''';
        create index grow_k on grow using gin (k) with (fastupdate = off);
        copy grow from program 'seq 1 500 | awk ''{print "{7}"}''';
        -- a posting tree built whole with its last leaf all but full: inserts split it below an
        -- internal root; most of it deleted, VACUUM recompresses its leaves and deletes the empty ones
        create table pt (id int, k int[]);
        copy pt from program 'seq 1 38300 | awk ''{print $1"\\t{1}"}''';
        create index pt_k on pt using gin (k) with (fastupdate = off);
        copy pt from program 'seq 38301 38800 | awk ''{print $1"\\t{1}"}''';
        -- 32,000 heap deletes are not what this test is about: no consistency images for them
        set wal_consistency_checking = 'Gin';
        delete from pt where id between 3000 and 35000;
        reset wal_consistency_checking;
        vacuum pt;
        create unlogged table ul (t text[]);
        create index ul_t on ul using gin (t);
        insert into ul select array['a' || (g % 10), md5(g::text)] from generate_series(1, 2000) g;
        reindex index concurrently docs_arr;
        insert into docs select g, 'after reindex', '{}', array[g % 10] from generate_series(30001, 30500) g;
        """;

    /** Gin record types by name (gin_identify) and xl_info. */
    static final Map<String, String> TYPES = Map.of("CREATE_PTREE", "0x10", "INSERT", "0x20", "SPLIT", "0x30",
        "VACUUM_PAGE", "0x40", "DELETE_PAGE", "0x50", "UPDATE_META_PAGE", "0x60", "INSERT_LISTPAGE", "0x70",
        "DELETE_LISTPAGE", "0x80", "VACUUM_DATA_LEAF_PAGE", "0x90");

    /**
     * The types whose images are compared: all but VACUUM_PAGE, whose one block is always a
     * full-page image to apply (REGBUF_FORCE_IMAGE), so there is nothing to compare: its redo
     * is the image's restoration.
     */
    static final List<String> COMPARED = TYPES.entrySet().stream().filter(t -> !t.getKey().equals("VACUUM_PAGE"))
        .map(t -> "Gin/" + t.getValue()).sorted().toList();

    @Test
    void ginRedoEqualsTheConsistencyImages() throws Exception {
        try (PgCluster pg = PgCluster.builder().initdb("--wal-segsize=1").set("wal_consistency_checking", "'all'")
            .set("autovacuum", "off").set("wal_keep_size", "'4GB'").set("max_wal_size", "'4GB'").start()) {
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psqlScript(WORKLOAD);
            Lsn end = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck result = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"), start.segmentStart(1 << 20),
                1 << 20);
            Map<String, Integer> written = ginRecordsWritten(pg, start, end);
            Map<String, Integer> checked = new TreeMap<>();
            result.checked().forEach((type, n) -> {
                if (type.startsWith("Gin/")) {
                    checked.put(type, n);
                }
            });
            System.out.println("GinRedoConsistencyIT: Gin records written (pg_waldump) " + written);
            System.out.println("GinRedoConsistencyIT: Gin images compared per record type " + checked
                + ", per resource manager " + result.checkedPerRmgr() + ", records decoded " + result.records());
            assertEquals(List.of(), result.mismatches());
            // both trees, leaf and internal: the paths of ginRedoInsert; internal splits: the
            // child whose split they finish (block 3)
            String dump = pg.pgWaldump("-s", start.toString(), "-e", end.toString(), "-r", "Gin");
            for (String desc : List.of("INSERT isdata: F isleaf: T", "INSERT isdata: F isleaf: F",
                "INSERT isdata: T isleaf: T", "INSERT isdata: T isleaf: F", "SPLIT isrootsplit: F isdata: F isleaf: F",
                "SPLIT isrootsplit: T isdata: F isleaf: F", "SPLIT isrootsplit: F isdata: T isleaf: T")) {
                assertTrue(dump.contains("desc: " + desc), desc + " not written");
            }
            for (String name : TYPES.keySet()) {
                assertTrue(written.getOrDefault(name, 0) > 0, name + " not written: " + written);
            }
            for (String type : COMPARED) {
                assertTrue(checked.getOrDefault(type, 0) > 0, type + " not compared: " + checked);
            }
        }
    }

    static final Pattern STATS = Pattern.compile("^Gin/(\\S+)\\s+(\\d+)", Pattern.MULTILINE);

    /** pg_waldump --stats=record's count per Gin record type between the two LSNs. */
    static Map<String, Integer> ginRecordsWritten(PgCluster pg, Lsn start, Lsn end) throws Exception {
        String stats = pg.pgWaldump("-s", start.toString(), "-e", end.toString(), "-r", "Gin", "--stats=record");
        Map<String, Integer> out = new TreeMap<>();
        Matcher m = STATS.matcher(stats);
        while (m.find()) {
            out.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return out;
    }
}
