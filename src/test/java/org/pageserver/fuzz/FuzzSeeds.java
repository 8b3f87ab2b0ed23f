package org.pageserver.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.protocol.replication.ReplicationMessage;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalDecoder;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Writes the seed corpus of the fuzz targets (the *FuzzTest classes) under
 * src/test/resources/&lt;package&gt;/&lt;Class&gt;Inputs/&lt;method&gt;/: what psql, libpq and a
 * walsender send, as the project's own encoders write them (the same bytes on the wire), and
 * slices and records of the real PostgreSQL 15 WAL fixtures. Run from the project directory by
 * {@code bench/fuzz.sh --seeds}; crashes the fuzzer finds are added next to these by hand, named
 * after the bug.
 */
public final class FuzzSeeds {
    private final Path resources;

    private FuzzSeeds(Path resources) {
        this.resources = resources;
    }

    public static void main(String[] args) throws Exception {
        FuzzSeeds s = new FuzzSeeds(Path.of(args.length > 0 ? args[0] : "src/test/resources"));
        s.pgwire();
        s.pagestream();
        s.replication();
        s.wal();
        s.control();
        s.tar();
    }

    private Path dir(String pkg, String cls, String method) throws IOException {
        Path d = resources.resolve(pkg.replace('.', '/')).resolve(cls + "Inputs").resolve(method);
        Files.createDirectories(d);
        return d;
    }

    private void put(Path dir, String name, byte[] bytes) throws IOException {
        Files.write(dir.resolve("seed-" + name), bytes);
    }

    private static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] wire(PgMessage... messages) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (PgMessage m : messages) {
            out.writeBytes(m.toBytes());
        }
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ pgwire

    private void pgwire() throws IOException {
        String pkg = "org.pageserver.protocol.pgwire";
        Path server = dir(pkg, "PgWireFuzzTest", "serverFrames");
        Map<String, String> psql = new LinkedHashMap<>();
        psql.put("user", "postgres");
        psql.put("database", "postgres");
        psql.put("application_name", "psql");
        psql.put("client_encoding", "UTF8");
        Map<String, String> replication = new LinkedHashMap<>();
        replication.put("user", "replicator");
        replication.put("replication", "true");
        replication.put("options", "-c system_id=7711520361131730750 -c lsn=0/1500028");
        FrontendMessage.StartupMessage startup = new FrontendMessage.StartupMessage(psql);
        byte[] none = {0, 1, 2, 3, 4};
        byte[] password = {1, 9, 9, 9, 9};
        byte[] saslInitial = {2, 0, 0, 0, 7};
        byte[] saslContinue = {3, 0, 0, 1, 0};
        put(server, "psql-simple-query", cat(none, wire(new FrontendMessage.SSLRequest(), startup,
            new FrontendMessage.Query("status"), new FrontendMessage.Terminate())));
        put(server, "replication-startup", cat(none, wire(new FrontendMessage.StartupMessage(replication),
            new FrontendMessage.Query("IDENTIFY_SYSTEM"))));
        put(server, "cancel", cat(none, wire(new FrontendMessage.CancelRequest(4242, 0x5eed))));
        put(server, "gssenc", cat(none, wire(new FrontendMessage.GSSENCRequest(), startup)));
        put(server, "pgjdbc-extended", cat(none, wire(startup,
            new FrontendMessage.Parse("", "SELECT $1::int", new int[] {23}),
            new FrontendMessage.Bind("", "", new short[] {0}, List.of(utf8("42")), new short[] {1}),
            new FrontendMessage.Describe(FrontendMessage.Describe.PORTAL, ""),
            new FrontendMessage.Execute("", 0), new FrontendMessage.Close(FrontendMessage.Describe.STATEMENT, "s1"),
            new FrontendMessage.Flush(), new FrontendMessage.Sync())));
        put(server, "pagestream-copy", cat(none, wire(startup, new FrontendMessage.Query("pagestream 7711520361131730750"),
            new CopyData(new PageStreamRequest.GetPage(true, Lsn.parse("0/1500028"),
                new RelTag(1663, 5, 16384, ForkNumber.MAIN), 7).write()),
            new CopyDone(), new FrontendMessage.CopyFail("client gave up"))));
        put(server, "password", cat(password, wire(new FrontendMessage.PasswordMessage("md5" + "0".repeat(32)))));
        Scram.Client client = new Scram.Client("secret", "", "rOprNGfwEbeRWgbNEkqO");
        byte[] clientFirst = client.clientFirstMessage();
        put(server, "sasl-initial", cat(saslInitial, wire(
            new FrontendMessage.SASLInitialResponse(Scram.SCRAM_SHA_256_NAME, clientFirst))));
        Scram.ServerExchange exchange = Scram.ServerExchange.forSecret(
            Scram.Secret.build("secret", utf8("salt-of-16-bytes"), 2), "serverNonce");
        byte[] serverFirst = exchange.handleClientFirst(clientFirst);
        byte[] clientFinal = client.clientFinalMessage(serverFirst);
        put(server, "sasl-continue", cat(saslContinue, wire(new FrontendMessage.SASLResponse(clientFinal))));

        Path clientFrames = dir(pkg, "PgWireFuzzTest", "clientFrames");
        Map<Character, String> err = new LinkedHashMap<>();
        err.put('S', "ERROR");
        err.put('V', "ERROR");
        err.put('C', "42601");
        err.put('M', "syntax error at or near \"x\"");
        err.put('P', "1");
        err.put('F', "repl_scanner.l");
        err.put('L', "1234");
        err.put('R', "replication_yyerror");
        put(clientFrames, "auth-and-query", cat(new byte[] {0, 0, 0, 1}, wire(
            new BackendMessage.AuthenticationSASL(List.of(Scram.SCRAM_SHA_256_NAME)),
            new BackendMessage.AuthenticationSASLContinue(serverFirst),
            new BackendMessage.AuthenticationSASLFinal(utf8("v=AAAA")), new BackendMessage.AuthenticationOk(),
            new BackendMessage.ParameterStatus("server_version", "15.18"), new BackendMessage.BackendKeyData(77, 88),
            new BackendMessage.ReadyForQuery(BackendMessage.ReadyForQuery.IDLE),
            new BackendMessage.RowDescription(List.of(BackendMessage.RowDescription.Field.of("systemid", 25, (short) -1),
                BackendMessage.RowDescription.Field.of("timeline", 23, (short) 4))),
            BackendMessage.DataRow.ofText(java.util.Arrays.asList("7711520361131730750", null)),
            new BackendMessage.CommandComplete("IDENTIFY_SYSTEM"), new BackendMessage.ErrorResponse(err),
            new BackendMessage.AuthenticationMD5Password(new byte[] {1, 2, 3, 4}))));
        put(clientFrames, "copy-both", cat(new byte[] {0, 1, 0, 0}, wire(
            new BackendMessage.CopyBothResponse(0, new short[0]), new BackendMessage.CopyOutResponse(1, new short[] {1}),
            new CopyData(new byte[] {'k', 0, 0, 0, 0, 1, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), new CopyDone(),
            new BackendMessage.ParameterDescription(new int[] {23, 25}), new BackendMessage.NoData(),
            new BackendMessage.ParseComplete(), new BackendMessage.BindComplete(), new BackendMessage.CloseComplete(),
            new BackendMessage.PortalSuspended(), new BackendMessage.EmptyQueryResponse(),
            new BackendMessage.NegotiateProtocolVersion(0, List.of("_pq_.x")),
            new BackendMessage.NotificationResponse(1, "chan", "payload"))));

        put(dir(pkg, "PgWireFuzzTest", "scramServerExchange"), "psql", cat(clientFirst, new byte[1], clientFinal));
        byte[] serverFinal = exchange.handleClientFinal(clientFinal).serverFinalMessage();
        put(dir(pkg, "PgWireFuzzTest", "scramClientExchange"), "postgres", cat(
            utf8("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=3"),
            new byte[1], serverFinal));
        Path sasl = dir(pkg, "PgWireFuzzTest", "saslPrep");
        put(sasl, "ascii", utf8("pencil"));
        put(sasl, "mapped", utf8("I\u00ADX \u00A0 \u2168"));
        put(sasl, "bidi", utf8("\u0627\u0031\u0628"));
        put(dir(pkg, "PgWireFuzzTest", "scramSecret"), "pg", utf8(
            Scram.Secret.build("secret", utf8("salt-of-16-bytes"), 4096).toString()));
        Path options = dir(pkg, "PgWireFuzzTest", "startupOptions");
        put(options, "system-id", utf8("-c system_id=7711520361131730750 -c lsn=0/1500028"));
        put(options, "escapes", utf8("--search_path=a\\ b -csynchronous_commit=off"));
        put(options, "replication", utf8("database"));
        Path conn = dir(pkg, "PgWireFuzzTest", "connInfo");
        put(conn, "keyword-value", utf8("host=db1 port=5432 user=replicator password='se cr\\'et' dbname=postgres"));
        put(conn, "uri", utf8("postgresql://replicator:secret@[::1]:5432,db2:5433/postgres?application_name=ps&sslmode=disable"));
        put(conn, "percent", utf8("postgres://%2Fvar%2Frun%2Fpostgresql/db?user=me%40x"));
    }

    // ------------------------------------------------------------------ pagestream, replication

    private void pagestream() throws IOException {
        String pkg = "org.pageserver.protocol.pagestream";
        Path req = dir(pkg, "PageStreamFuzzTest", "request");
        Lsn lsn = Lsn.parse("0/1500028");
        RelTag rel = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
        put(req, "exists", new PageStreamRequest.Exists(false, lsn, rel).write());
        put(req, "nblocks", new PageStreamRequest.Nblocks(true, lsn, rel).write());
        put(req, "getpage", new PageStreamRequest.GetPage(true, lsn, rel, 7).write());
        put(req, "dbsize", new PageStreamRequest.DbSize(false, lsn, 5).write());
        Path resp = dir(pkg, "PageStreamFuzzTest", "response");
        put(resp, "exists", new PageStreamResponse.Exists(true).write());
        put(resp, "nblocks", new PageStreamResponse.Nblocks(3).write());
        put(resp, "page", new PageStreamResponse.Page(new byte[8192]).write());
        put(resp, "error", new PageStreamResponse.Error("could not read block 7").write());
        put(resp, "dbsize", new PageStreamResponse.DbSize(7_340_032).write());
    }

    /** A fixed sendTime (2026-07-11), so that rewriting the seeds gives the same files. */
    private static final long SEND_TIME = 837_000_000_000_000L;

    private void replication() throws IOException {
        String pkg = "org.pageserver.protocol.replication";
        Path streaming = dir(pkg, "ReplicationFuzzTest", "streamingMessage");
        byte[] wal = segment("wal", "000000010000000000000015");
        ByteArrayOutputStream xlog = new ByteArrayOutputStream();
        xlog.write('w');
        xlog.writeBytes(be64(0x1500000L));
        xlog.writeBytes(be64(0x1502000L));
        xlog.writeBytes(be64(SEND_TIME));
        xlog.write(wal, 0, 8192);
        put(streaming, "xlogdata", xlog.toByteArray());
        put(streaming, "keepalive", cat(new byte[] {'k'}, be64(0x1502000L), be64(SEND_TIME), new byte[] {1}));
        put(streaming, "standby-status", new ReplicationMessage.StandbyStatusUpdate(Lsn.parse("0/1502000"),
            Lsn.parse("0/1501000"), Lsn.parse("0/0"), SEND_TIME, false).toBytes());
        Path backup = dir(pkg, "ReplicationFuzzTest", "baseBackupMessage");
        put(backup, "new-archive", cat(utf8("nbase.tar"), new byte[1], new byte[1]));
        put(backup, "new-tablespace", cat(utf8("n16390.tar"), new byte[1], utf8("/srv/ts1"), new byte[1]));
        put(backup, "data", cat(new byte[] {'d'}, new byte[512]));
        put(backup, "progress", cat(new byte[] {'p'}, be64(123456)));
        put(backup, "manifest", new byte[] {'m'});
        Path cmd = dir(pkg, "ReplicationFuzzTest", "command");
        put(cmd, "identify", utf8("IDENTIFY_SYSTEM"));
        put(cmd, "show", utf8("SHOW wal_segment_size;"));
        put(cmd, "base-backup", utf8("BASE_BACKUP ( LABEL 'pg''s backup', PROGRESS, CHECKPOINT 'fast', WAIT false, "
            + "MAX_RATE 1024, TABLESPACE_MAP, MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256', COMPRESSION 'none')"));
        put(cmd, "start", utf8("START_REPLICATION SLOT \"pageserver_7711\" PHYSICAL 0/1500000 TIMELINE 1"));
        put(cmd, "create-slot", utf8("CREATE_REPLICATION_SLOT s1 TEMPORARY PHYSICAL (RESERVE_WAL)"));
        put(cmd, "logical", utf8("CREATE_REPLICATION_SLOT s2 LOGICAL pgoutput (SNAPSHOT 'nothing')"));
        put(cmd, "drop-slot", utf8("DROP_REPLICATION_SLOT s1 WAIT"));
        put(cmd, "timeline", utf8("TIMELINE_HISTORY 2"));
        put(cmd, "read-slot", utf8("READ_REPLICATION_SLOT s1"));
    }

    private static byte[] be64(long v) {
        return java.nio.ByteBuffer.allocate(8).putLong(v).array();
    }

    private static byte[] le64(long v) {
        return java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    // ------------------------------------------------------------------ WAL and records

    private static byte[] segment(String fixture, String name) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Path.of("src/test/resources", fixture,
            name + ".gz")))) {
            return in.readAllBytes();
        }
    }

    private static byte[] slice(byte[] b, int from, int len) {
        return java.util.Arrays.copyOfRange(b, from, from + len);
    }

    private static byte[] walSeed(long lsn, int chunkSeed, byte[] wal) {
        return cat(le64(lsn), java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putInt(chunkSeed).array(), wal);
    }

    private void wal() throws IOException {
        String pkg = "org.pageserver.protocol.wal";
        int seg = 1 << 20;
        byte[] s15 = segment("wal", "000000010000000000000015");
        byte[] s16 = segment("wal", "000000010000000000000016");
        byte[] s18 = segment("wal", "000000010000000000000018");
        Path chunks = dir(pkg, "WalFuzzTest", "decoderChunks");
        put(chunks, "segment-start", walSeed(0x1500000L, 1, slice(s15, 0, 3 * 8192)));
        put(chunks, "mid-segment", walSeed(0x1500000L + 40 * 8192, 2, slice(s15, 40 * 8192, 3 * 8192)));
        put(chunks, "across-segments", walSeed(0x1600000L - 2 * 8192, 3,
            cat(slice(s15, seg - 2 * 8192, 2 * 8192), slice(s16, 0, 2 * 8192))));
        put(chunks, "record-boundary", walSeed(0x1500028L, 4, slice(s15, 0x28, 8192 - 0x28)));
        put(chunks, "pglz-images", walSeed(0x1800000L, 5, slice(s18, 0, 3 * 8192)));
        Path headers = dir(pkg, "WalFuzzTest", "pageHeader");
        put(headers, "long", slice(s15, 0, 40));
        put(headers, "short", slice(s15, 8192, 24));
        put(headers, "contrecord", slice(s16, 0, 40));
        // one record of each (rmgr, xl_info) in the fixtures, for the record decoder and RecordCheck
        Map<Integer, WalRecord> kinds = new TreeMap<>();
        List<WalRecord> images = new ArrayList<>();
        for (String name : List.of("000000010000000000000015", "000000010000000000000016", "000000010000000000000017",
            "000000010000000000000018", "000000010000000000000019", "00000001000000000000001A",
            "00000001000000000000001B")) {
            long start = Long.parseLong(name.substring(16), 16) * seg;
            decodeInto(segment("wal", name), start, seg, kinds, images);
        }
        for (String rm : List.of("hash", "gin", "gist", "spgist", "brin", "generic")) {
            Path d = Path.of("src/test/resources/redo", rm);
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(d.resolve("fixture.properties"))) {
                p.load(in);
            }
            String first = p.getProperty("first_segment");
            byte[] wal;
            try (InputStream in = new GZIPInputStream(Files.newInputStream(d.resolve("wal.gz")))) {
                wal = in.readAllBytes();
            }
            decodeInto(wal, Long.parseLong(first.substring(16), 16) * seg, seg, kinds, images);
        }
        Path records = dir(pkg, "WalFuzzTest", "record");
        Path check = dir("org.pageserver.redo", "RecordFuzzTest", "check");
        Path redo = dir("org.pageserver.redo", "RecordFuzzTest", "redo");
        for (WalRecord r : kinds.values()) {
            String name = String.format("rmgr%02d-info%02x", r.rmid(), r.info());
            if (r.raw().length <= 9000) {
                put(records, name, r.raw());
            }
            put(check, name, recordInput(r));
            put(redo, name, recordInput(r));
        }
        for (WalRecord r : images) {
            BlockRef b = r.blocks().stream().filter(BlockRef::hasImage).findFirst().orElseThrow();
            put(records, String.format("image-%02x", b.bimgInfo()), r.raw());
            if ((b.bimgInfo() & BlockRef.BKPIMAGE_COMPRESS_PGLZ) != 0) {
                int raw = 8192 - b.holeLength();
                put(dir(pkg, "WalFuzzTest", "pglz"), "image", cat(new byte[] {(byte) raw, (byte) (raw >>> 8)},
                    b.imageData()));
            }
        }
    }

    /** Collects the first record of each (rmid, xl_info), and one record per kind of full-page image. */
    private static void decodeInto(byte[] wal, long start, int segSize, Map<Integer, WalRecord> kinds,
                                   List<WalRecord> images) {
        java.util.Set<Integer> imageKinds = new java.util.HashSet<>();
        images.forEach(r -> imageKinds.add(firstImage(r).bimgInfo()));
        try {
            new WalDecoder(new Lsn(start), segSize).feed(wal, 0, wal.length, r -> {
                kinds.putIfAbsent(r.rmid() << 8 | r.info(), r);
                BlockRef img = firstImage(r);
                if (img != null && r.raw().length <= 9000 && imageKinds.add(img.bimgInfo())) {
                    images.add(r);
                }
            });
        } catch (org.pageserver.protocol.wal.WalDecodeException endOfFixture) {
            // a fixture ends wherever its WAL was cut: the zeros after the last record
        }
    }

    private static BlockRef firstImage(WalRecord r) {
        return r.blocks().stream().filter(BlockRef::hasImage).findFirst().orElse(null);
    }

    /** RecordFuzzTest's input form of a record (see its javadoc). */
    private static byte[] recordInput(WalRecord r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(r.rmid());
        out.write(r.info());
        List<BlockRef> blocks = r.blocks().subList(0, Math.min(r.blocks().size(), 7));
        out.write(blocks.size());
        for (BlockRef b : blocks) {
            out.write(b.blockId());
            out.write(b.forkFlags());
            for (int s = 0; s < 32; s += 8) {
                out.write(b.blkno() >>> s);
            }
            out.write((b.hasImage() ? 1 : 0) | (b.applyImage() ? 2 : 0));
            byte[] d = b.data() == null ? new byte[0] : b.data();
            out.write(d.length);
            out.write(d.length >>> 8);
            out.writeBytes(d);
        }
        out.writeBytes(r.mainData());
        return out.toByteArray();
    }

    // ------------------------------------------------------------------ pg_control, tar

    private void control() throws IOException {
        put(dir("org.pageserver.protocol.control", "ControlFileFuzzTest", "parse"), "pg_control",
            Files.readAllBytes(Path.of("src/test/resources/control/pg_control")));
    }

    private void tar() throws Exception {
        Path src = Files.createTempDirectory("fuzz-seeds");
        Files.createDirectories(src.resolve("base/5"));
        Files.createDirectories(src.resolve("global"));
        Files.createDirectories(src.resolve("pg_tblspc"));
        Files.createDirectories(src.resolve("pg_xact"));
        Files.writeString(src.resolve("base/5/PG_VERSION"), "15\n");
        Files.write(src.resolve("base/5/16384"), new byte[2 * 8192]);
        Files.write(src.resolve("pg_xact/0000"), new byte[8192]);
        Files.writeString(src.resolve("base/5/" + "x".repeat(120)), "a long name");
        Files.createSymbolicLink(src.resolve("pg_tblspc/16390"), Path.of("/srv/ts1"));
        Files.copy(Path.of("src/test/resources/control/pg_control"), src.resolve("global/pg_control"));
        Path out = dir("org.pageserver.tenant", "TarFuzzTest", "readArchive");
        for (String format : List.of("gnu", "pax", "oldgnu")) {
            Path tar = src.resolve("out.tar");
            List<String> cmd = List.of("tar", "--format=" + format, "--blocking-factor=1", "--owner=0", "--group=0", "--mtime=2026-01-01",
                "-cf", tar.toString(), "-C", src.toString(), "base", "global", "pg_tblspc", "pg_xact");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("tar failed: " + cmd);
            }
            byte[] b = Files.readAllBytes(tar);
            Files.delete(tar);
            put(out, format, b);
        }
        try (java.util.stream.Stream<Path> files = Files.walk(src)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
