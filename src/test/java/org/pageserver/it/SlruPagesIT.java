package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.SystemId;

/**
 * The SLRUs served as pseudo-relations (SlruKind) equal the primary's own SLRU files, page
 * for page, after a workload of every kind of transaction end: commits and aborts, one
 * transaction with 40,000 subtransactions (a seventh of them rolled back) that crosses a CLOG
 * page and dozens of commit timestamp pages, two-phase commit and rollback, and thousands of
 * MultiXacts from three sessions share-locking the same rows, crossing offsets and members
 * pages. track_commit_timestamp is on. After CHECKPOINT the primary's files hold every page.
 */
class SlruPagesIT {
    @TempDir
    Path tmp;

    @Test
    void everySlruPageEqualsThePrimarysFile() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").set("track_commit_timestamp", "on")
                 .set("max_prepared_transactions", "5").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psqlScript("""
                create table t (id int primary key, v int);
                insert into t select g, 0 from generate_series(1, 3000) g;
                create table sub (id int);
                do $$
                begin
                  for i in 1..40000 loop
                    begin
                      insert into sub values (i);
                      if i % 7 = 0 then
                        raise exception 'roll back this one';
                      end if;
                    exception when raise_exception then
                      null;
                    end;
                  end loop;
                end $$;
                begin; insert into sub values (-1); rollback;
                begin; insert into sub values (-2); prepare transaction 'p1';
                begin; insert into sub values (-3); prepare transaction 'p2';
                commit prepared 'p1';
                rollback prepared 'p2';
                """);
            StringBuilder many = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                many.append(i % 3 == 0 ? "begin; update t set v = v + 1 where id = " + (i + 1) + "; rollback;\n"
                    : "update t set v = v + 1 where id = " + (i + 1) + ";\n");
            }
            pg.psqlScript(many.toString());
            multixacts(pg, 3000);
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));

            Map<String, Integer> compared = new TreeMap<>();
            List<String> mismatches = new ArrayList<>();
            try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
                for (SlruKind kind : SlruKind.values()) {
                    Path dir = pg.dataDir().resolve(kind.dir);
                    List<Path> segments;
                    try (Stream<Path> s = Files.list(dir)) {
                        segments = s.sorted().toList();
                    }
                    int lastPage = -1;
                    for (Path seg : segments) {
                        SlruKind.SegmentFile f = SlruKind.parseSegment(kind.dir + "/" + seg.getFileName());
                        byte[] file = Files.readAllBytes(seg);
                        for (int p = 0; p < file.length / 8192; p++) {
                            int pageno = f.firstPage() + p;
                            byte[] ours = client.getPage(kind.rel(), pageno, end, false);
                            byte[] theirs = java.util.Arrays.copyOfRange(file, p * 8192, (p + 1) * 8192);
                            int diff = java.util.Arrays.mismatch(ours, theirs);
                            if (diff >= 0) {
                                mismatches.add(kind + " page " + pageno + " differs from byte " + diff + " (ours "
                                    + (ours[diff] & 0xFF) + ", primary " + (theirs[diff] & 0xFF) + ")");
                            }
                            compared.merge(kind.name(), 1, Integer::sum);
                            lastPage = Math.max(lastPage, pageno);
                        }
                    }
                    if (lastPage >= 0) {
                        assertEquals(lastPage + 1, client.nblocks(kind.rel(), end, false), kind + " pages");
                    }
                }
            }
            System.out.println("SLRU pages compared: " + compared + ", mismatches: " + mismatches.size());
            assertTrue(mismatches.isEmpty(), mismatches.size() + " pages differ: "
                + mismatches.subList(0, Math.min(10, mismatches.size())));
            assertTrue(compared.getOrDefault("XACT", 0) >= 2, "two CLOG pages: " + compared);
            assertTrue(compared.getOrDefault("COMMIT_TS", 0) >= 40, "commit timestamp pages: " + compared);
            assertTrue(compared.getOrDefault("MULTIXACT_OFFSETS", 0) >= 2, "offsets pages: " + compared);
            assertTrue(compared.getOrDefault("MULTIXACT_MEMBERS", 0) >= 4, "members pages: " + compared);
        }
    }

    /**
     * Three sessions share-lock the same row, so the second and third lock create MultiXacts
     * (of two, then three members); a quarter of the rounds end in rollback.
     */
    static void multixacts(PgCluster pg, int rounds) throws Exception {
        Connection[] cs = {pg.connect(), pg.connect(), pg.connect()};
        try {
            Statement[] st = new Statement[3];
            for (int i = 0; i < 3; i++) {
                cs[i].setAutoCommit(false);
                st[i] = cs[i].createStatement();
            }
            for (int r = 0; r < rounds; r++) {
                int row = 1 + r % 3000;
                for (int i = 0; i < 3; i++) {
                    String lock = i == 1 ? "for key share" : "for share";
                    st[i].executeQuery("select v from t where id = " + row + " " + lock).close();
                }
                for (int i = 0; i < 3; i++) {
                    if (r % 4 == 3) {
                        cs[i].rollback();
                    } else {
                        cs[i].commit();
                    }
                }
            }
        } finally {
            for (Connection c : cs) {
                c.close();
            }
        }
    }
}
