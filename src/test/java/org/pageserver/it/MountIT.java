package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.cli.Cli;
import org.pageserver.client.PageClient;
import org.pageserver.mount.CloneFileSystem;
import org.pageserver.mount.CloneTree;
import org.pageserver.mount.LowerLayer;
import org.pageserver.mount.PageServerCatalog;
import org.pageserver.mount.PageServerSource;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.redo.mask.BufMask;

/**
 * The clone filesystem through the kernel (real FUSE) over a real pageserver following a real
 * primary: relation files read through the mount point, writes kept in the upper directory,
 * and the mount command's refusals.
 */
class MountIT {
    @TempDir
    Path tmp;

    static Properties connection() {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("assumeMinServerVersion", "15");
        return p;
    }

    @Test
    void relationFilesThroughFuseAreThePagesAsOfTheLsn() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            pg.pgbench("-i", "-s", "2", "-q");
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.pgbench("-c", "2", "-t", "200");
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            String db = pg.psql("select oid from pg_database where datname = 'postgres'");

            Map<RelTag, Integer> relations;
            try (PageServerCatalog catalog = PageServerCatalog.connect(ps.url(), connection())) {
                relations = catalog.relations(id, end);
            }
            Path mp = Files.createDirectory(tmp.resolve("mnt"));
            Path upper = tmp.resolve("upper");
            PageServerSource source = PageServerSource.connect(ps.url(), "postgres", null, id, end, Duration.ofSeconds(5), false);
            CloneTree tree = new CloneTree(upper, LowerLayer.of(relations), source);
            CloneFileSystem fs = new CloneFileSystem(tree, 0, 0, System.err);
            fs.mountAndWait(mp, 30_000);
            try (PageClient client = PageClient.connect(ps.url(), "postgres", null, id)) {
                int compared = 0;
                List<String> diffs = new ArrayList<>();
                for (String table : List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history",
                    "pgbench_accounts_pkey")) {
                    String node = pg.psql("select pg_relation_filenode('" + table + "')");
                    Path rel = Path.of("base", db, node);
                    long tripsBefore = source.roundTrips();
                    byte[] mounted = Files.readAllBytes(mp.resolve(rel));
                    if (table.equals("pgbench_accounts")) {
                        long trips = source.roundTrips() - tripsBefore;
                        System.out.printf("MountIT: %d blocks of pgbench_accounts read in %d round trips%n",
                            mounted.length / 8192, trips);
                        assertTrue(trips * 32 <= mounted.length / 8192, "read-ahead: " + trips + " round trips for "
                            + mounted.length / 8192 + " blocks");
                    }
                    byte[] primary = Files.readAllBytes(pg.dataDir().resolve(rel));
                    assertEquals(primary.length, mounted.length, table + " size");
                    RelTag tag = new RelTag(1663, Integer.parseInt(db), Integer.parseInt(node), ForkNumber.MAIN);
                    for (int b = 0; b < mounted.length / 8192; b++) {
                        byte[] ours = Arrays.copyOfRange(mounted, b * 8192, (b + 1) * 8192);
                        if (b % 97 == 0) {
                            assertArrayEquals(client.getPage(tag, b, end, false), ours, table + " block " + b);
                        }
                        byte[] theirs = Arrays.copyOfRange(primary, b * 8192, (b + 1) * 8192);
                        if (isNew(ours) || isNew(theirs)) {
                            // a page added by a bulk extension and never used: zeros on both sides, no header to mask
                            if (!Arrays.equals(ours, theirs)) {
                                diffs.add(table + " block " + b + " (new page)");
                            }
                        } else if (table.endsWith("_pkey")) {
                            BufMask.btreeMask(ours);
                            BufMask.btreeMask(theirs);
                        } else {
                            BufMask.heapMask(ours, b);
                            BufMask.heapMask(theirs, b);
                        }
                        if (!Arrays.equals(ours, theirs)) {
                            diffs.add(table + " block " + b);
                        }
                        compared++;
                    }
                }
                assertEquals(List.of(), diffs);
                assertTrue(compared > 300, compared + " blocks compared");

                // every relation file the primary has (after CHECKPOINT) is listed, with its name
                List<String> primaryFiles = new ArrayList<>();
                try (var s = Files.list(pg.dataDir().resolve("base").resolve(db))) {
                    s.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d+(_fsm|_vm|_init)?(\\.\\d+)?"))
                        .forEach(primaryFiles::add);
                }
                List<String> mountedFiles;
                try (var s = Files.list(mp.resolve("base").resolve(db))) {
                    mountedFiles = s.map(p -> p.getFileName().toString()).toList();
                }
                assertTrue(mountedFiles.containsAll(primaryFiles.stream().filter(n -> !n.endsWith("_fsm")).toList()),
                    "missing: " + primaryFiles.stream().filter(n -> !mountedFiles.contains(n)).toList());

                // a write through the mount point stays in the upper directory
                String branches = pg.psql("select pg_relation_filenode('pgbench_branches')");
                RelTag tag = new RelTag(1663, Integer.parseInt(db), Integer.parseInt(branches), ForkNumber.MAIN);
                byte[] before = client.getPage(tag, 0, end, false);
                byte[] page = new byte[8192];
                Arrays.fill(page, (byte) 0x5a);
                try (RandomAccessFile f = new RandomAccessFile(mp.resolve("base/" + db + "/" + branches).toFile(), "rw")) {
                    f.seek(0);
                    f.write(page);
                    f.getFD().sync();
                }
                byte[] reread = new byte[8192];
                try (RandomAccessFile f = new RandomAccessFile(mp.resolve("base/" + db + "/" + branches).toFile(), "r")) {
                    f.readFully(reread);
                }
                assertArrayEquals(page, reread);
                assertArrayEquals(before, client.getPage(tag, 0, end, false), "the pageserver never sees a clone's write");
                assertTrue(Files.exists(upper.resolve("cow/base/" + db + "/" + branches)));
            } finally {
                fs.umount();
                tree.close();
                source.close();
            }
            assertFalse(CloneFileSystem.isMounted(mp));
        }
    }

    /**
     * Reads through the mount wait for a pageserver that restarts and resume with the right
     * pages; once it is gone for longer than the retry time, a read is EIO, never zeros.
     */
    @Test
    void readsWaitForARestartedPageserverAndFailWhenItIsGone() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            pg.pgbench("-i", "-s", "1", "-q");
            Path psData = tmp.resolve("ps");
            TestPageServer ps = TestPageServer.start(psData);
            int port = ps.port();
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            pg.psql("checkpoint");
            Lsn end = pg.flushLsn();
            ps.awaitDurable(end, Duration.ofSeconds(60));
            String db = pg.psql("select oid from pg_database where datname = 'postgres'");
            Map<RelTag, Integer> relations;
            try (PageServerCatalog catalog = PageServerCatalog.connect(ps.url(), connection())) {
                relations = catalog.relations(id, end);
            }
            Path mp = Files.createDirectory(tmp.resolve("mnt"));
            PageServerSource source = PageServerSource.connect(ps.url(), "postgres", null, id, end, Duration.ofSeconds(20), false);
            CloneTree tree = new CloneTree(tmp.resolve("upper"), LowerLayer.of(relations), source);
            CloneFileSystem fs = new CloneFileSystem(tree, 0, 0, System.err);
            fs.mountAndWait(mp, 30_000);
            try {
                Path branches = mp.resolve("base/" + db + "/" + pg.psql("select pg_relation_filenode('pgbench_branches')"));
                Path tellers = mp.resolve("base/" + db + "/" + pg.psql("select pg_relation_filenode('pgbench_tellers')"));
                Path accounts = mp.resolve("base/" + db + "/" + pg.psql("select pg_relation_filenode('pgbench_accounts')"));
                assertEquals(8192, Files.readAllBytes(branches).length, "read while the pageserver runs");

                ps.close();
                CompletableFuture<byte[]> waiting = CompletableFuture.supplyAsync(() -> {
                    try {
                        return Files.readAllBytes(tellers);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                ps = TestPageServer.start(psData, port, Map.of());
                byte[] tellersPages = waiting.get(60, TimeUnit.SECONDS);
                assertEquals(8192, tellersPages.length);
                try (PageClient c = PageClient.connect(ps.url(), "postgres", null, id)) {
                    RelTag t = new RelTag(1663, Integer.parseInt(db), Integer.parseInt(tellers.getFileName().toString()),
                        ForkNumber.MAIN);
                    assertArrayEquals(c.getPage(t, 0, end, false), Arrays.copyOf(tellersPages, 8192),
                        "the read resumed on the restarted pageserver with the page as of the LSN");
                }
                ps.close();
                ps = null;
                long t0 = System.nanoTime();
                java.io.IOException eio = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> Files.readAllBytes(accounts));
                assertTrue(eio.getMessage().contains("Input/output error"), eio.getMessage());
                assertTrue(System.nanoTime() - t0 >= Duration.ofSeconds(19).toNanos(), "after the retry time");
            } finally {
                fs.umount();
                tree.close();
                source.close();
                if (ps != null) {
                    ps.close();
                }
            }
        }
    }

    /** PageIsNew: pd_upper 0, as an extension leaves a page before anything is put on it. */
    static boolean isNew(byte[] page) {
        return page[14] == 0 && page[15] == 0;
    }

    record Run(int status, String out, String err) {
    }

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Cli.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    /**
     * A writable clone is on a timeline of its own, the primary's plus one, forked where its WAL
     * begins: its history file is in the upper directory and every WAL segment it writes is
     * named for that timeline, none for the primary's.
     */
    @Test
    void aWritableCloneWritesItsWalOnANewTimeline() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start()) {
            Path work = pg.dir();
            try (TestPageServer ps = TestPageServer.start(work.resolve("ps"))) {
                pg.pgbench("-i", "-s", "1", "-q");
                SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
                int n = Integer.parseInt(pg.psql("select timeline_id from pg_control_checkpoint()"));
                Lsn at = pg.flushLsn();
                ps.awaitDurable(at, Duration.ofSeconds(60));
                Path mp = work.resolve("clone");
                Path upper = work.resolve("upper");
                pg.run(List.of("mkdir", mp.toString()), true);
                MountCloneIT.Compute clone = new MountCloneIT.Compute(pg, mp);
                try (MountCloneIT.MountProcess mount = new MountCloneIT.MountProcess(work, "--port",
                    String.valueOf(ps.port()), "--system-id", id.toString(), "--lsn", at.toString(), "--upper",
                    upper.toString(), "--owner", "postgres", mp.toString())) {
                    assertEquals("ready " + mp + " " + id + " " + at, mount.ready);
                    clone.start();
                    try {
                        assertEquals((n + 1) + "|" + n,
                            clone.psql("select timeline_id || '|' || prev_timeline_id from pg_control_checkpoint()"));
                        Lsn switchpoint = new Lsn((at.segmentNumber(16 << 20) + 1) * (16 << 20));
                        assertEquals(n + "\t" + switchpoint + "\tbase backup at LSN " + at,
                            clone.psql(String.format("select pg_read_file('pg_wal/%08X.history')", n + 1)).strip());
                        clone.psql("insert into pgbench_history select 1, 1, 1, g, now() from generate_series(1, 20000) g");
                        clone.psql("select pg_switch_wal()");
                        clone.psql("insert into pgbench_history values (1, 1, 1, 1, now())");
                        String prefix = String.format("%08X", n + 1);
                        List<String> wal = List.of(clone.psql("select name from pg_ls_waldir() order by name").split("\n"));
                        assertTrue(wal.size() >= 3 && wal.stream().allMatch(f -> f.startsWith(prefix)), wal.toString());
                    } finally {
                        clone.stop();
                    }
                }
            }
        }
    }

    @Test
    void badRequestsAreRefusedBeforeAnythingIsWritten() throws Exception {
        try (PgCluster pg = PgCluster.builder().set("autovacuum", "off").start();
             TestPageServer ps = TestPageServer.start(tmp.resolve("ps"))) {
            SystemId id = SystemId.parse(ps.psql("callmemaybe " + pg.conninfo()));
            String consistent = ps.statusRow()[5];
            String port = String.valueOf(ps.port());
            Path mp = Files.createDirectory(tmp.resolve("mnt"));
            Path upper = tmp.resolve("upper");

            Run unknown = cli("mount", "--port", port, "--system-id", "12345", "--latest", "--upper", upper.toString(),
                mp.toString());
            assertEquals(1, unknown.status(), unknown.err());
            assertTrue(unknown.err().contains("unknown system_id 12345"), unknown.err());

            Run below = cli("mount", "--port", port, "--system-id", id.toString(), "--lsn", "0/10", "--upper",
                upper.toString(), mp.toString());
            assertEquals(1, below.status(), below.err());
            assertTrue(below.err().contains("below the consistent point " + consistent), below.err());
            try (var s = Files.list(upper)) {
                assertEquals(0, s.count(), "nothing written for a refused request");
            }

            // the relations command itself, as psql shows it
            for (String[] bad : new String[][] {{"relations " + id + " 0/0", "LSN 0/0 is not a WAL position"},
                {"relations 12345 latest", "unknown system_id 12345"},
                {"relations " + id + " FFFF/0", "is beyond the WAL the pageserver has stored"},
                {"relations " + id, "usage: relations <system_id> <lsn>|latest"}}) {
                String msg = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> ps.psql(bad[0])).getMessage();
                assertTrue(msg.contains(bad[1]), bad[0] + ": " + msg);
            }
            assertTrue(ps.psql("relations " + id + " latest").contains("1663|"), "rows spcnode|dbnode|relnode|forknum|nblocks");

            Path foreign = Files.createDirectory(tmp.resolve("foreign"));
            Files.writeString(foreign.resolve("notes.txt"), "mine");
            Run notOurs = cli("mount", "--port", port, "--system-id", id.toString(), "--latest", "--upper",
                foreign.toString(), mp.toString());
            assertEquals(1, notOurs.status());
            assertTrue(notOurs.err().contains("not a clone's upper directory"), notOurs.err());

            Run both = cli("mount", "--port", port, "--system-id", id.toString(), "--latest", "--lsn", "0/1", "--upper",
                upper.toString(), mp.toString());
            assertEquals(2, both.status(), both.err());
            Run neither = cli("mount", "--port", port, "--system-id", id.toString(), "--upper", upper.toString(),
                mp.toString());
            assertEquals(2, neither.status(), neither.err());
            Run noUser = cli("mount", "--port", port, "--system-id", id.toString(), "--latest", "--owner",
                "no-such-user-here", "--upper", upper.toString(), mp.toString());
            assertEquals(2, noUser.status(), noUser.err());
            Run notEmpty = cli("mount", "--port", port, "--system-id", id.toString(), "--latest", "--upper",
                upper.toString(), foreign.toString());
            assertEquals(1, notEmpty.status());
            assertTrue(notEmpty.err().contains("is not empty"), notEmpty.err());
        }
    }
}
