package org.pageserver.it;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.pageserver.protocol.Lsn;
import org.pageserver.redo.ConsistencyCheck;

/**
 * One run of the wal_consistency_checking ITs: a primary whose every record carries consistency
 * images (1 MB segments, so the check reads few bytes past the workload; autovacuum off, so only
 * the workload writes; WAL kept whole), an optional setup, then from a checkpoint on the
 * workload, whose WAL {@link ConsistencyCheck} redoes and compares. pg_waldump says what the
 * workload wrote of the resource managers asked, so that a test can tell a record type that was
 * written but not compared from one never written.
 */
final class ConsistencyRun {
    /** The WAL segment size, --wal-segsize=1 below. */
    static final int SEGMENT_SIZE = 1 << 20;

    /** The workload, for the tests that need more than one script (a restart, waiting on autovacuum). */
    @FunctionalInterface
    interface Workload {
        void run(PgCluster pg) throws Exception;
    }

    /**
     * What a run gave: the check's result, the workload's WAL range, and per resource manager
     * asked, pg_waldump's count of records written per record type name (only types written)
     * and its listing of those records.
     */
    record Result(ConsistencyCheck check, Lsn start, Lsn end, Map<String, Map<String, Integer>> written,
        Map<String, String> listing) {
        /** The two lines most ITs print: images compared, records decoded and blocks not redone. */
        void print(String test) {
            System.out.println(test + ": checked per record type " + check.checked());
            System.out.println(test + ": records decoded (each passed the ingest check) " + check.records()
                + ", blocks of records not redone here " + check.unsupported());
        }
    }

    private final PgCluster.Builder cluster = PgCluster.builder().initdb("--wal-segsize=1")
        .set("wal_consistency_checking", "'all'").set("autovacuum", "off").set("wal_keep_size", "'4GB'")
        .set("max_wal_size", "'4GB'");
    private String setup = "";
    private List<String> rmgrs = List.of();

    /** A primary with the settings above. */
    static ConsistencyRun primary() {
        return new ConsistencyRun();
    }

    private ConsistencyRun() {
    }

    /** A further postgresql.conf setting. */
    ConsistencyRun set(String key, String value) {
        cluster.set(key, value);
        return this;
    }

    /** SQL run before the checkpoint the checked WAL starts from (a replication slot, say). */
    ConsistencyRun setup(String sql) {
        setup = sql;
        return this;
    }

    /** The resource managers (pg_waldump's names, "Hash") whose records the result counts and lists. */
    ConsistencyRun waldump(String... rmgrs) {
        this.rmgrs = List.of(rmgrs);
        return this;
    }

    Result run(String workload) throws Exception {
        return run(pg -> pg.psqlScript(workload));
    }

    Result run(Workload workload) throws Exception {
        try (PgCluster pg = cluster.start()) {
            if (!setup.isEmpty()) {
                pg.psql(setup);
            }
            pg.psql("checkpoint");
            Lsn start = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            workload.run(pg);
            Lsn end = Lsn.parse(pg.psql("select pg_current_wal_insert_lsn()"));
            // the last segment complete: the check reads whole segments
            pg.psql("select pg_switch_wal()");
            ConsistencyCheck check = ConsistencyCheck.run(pg.dataDir().resolve("pg_wal"),
                start.segmentStart(SEGMENT_SIZE), SEGMENT_SIZE);
            Map<String, Map<String, Integer>> written = new TreeMap<>();
            Map<String, String> listing = new TreeMap<>();
            for (String rmgr : rmgrs) {
                List<String> range = new ArrayList<>(List.of("-s", start.toString(), "-e", end.toString(), "-r", rmgr));
                listing.put(rmgr, pg.pgWaldump(range.toArray(String[]::new)));
                range.add("--stats=record");
                written.put(rmgr, counts(rmgr, pg.pgWaldump(range.toArray(String[]::new))));
            }
            return new Result(check, start, end, written, listing);
        }
    }

    /** pg_waldump --stats=record's rows "Rmgr/TYPE  count ...": the count per type (it prints none of 0). */
    private static Map<String, Integer> counts(String rmgr, String stats) {
        Map<String, Integer> out = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(rmgr) + "/(\\S+)\\s+(\\d+)").matcher(stats);
        while (m.find()) {
            out.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return out;
    }
}
