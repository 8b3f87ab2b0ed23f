package org.pageserver.tenant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.streams.replication.WalChunk;
import org.pageserver.streams.replication.WalFeedback;

/**
 * The WAL-stream actor on real PG15 WAL (src/test/resources/tenant/README.md): every record
 * pg_waldump lists is stored under every block it references, the raw WAL is kept exactly,
 * and the watermark follows the received bytes even in the middle of a record.
 */
@ExtendWith(TestKitJUnit5Extension.class)
class WalStreamTest {
    @JUnit5TestKit
    ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestSupport.config()).build();

    static final Lsn SEGMENT = Lsn.parse("0/700000");
    static final Lsn FIRST_RECORD = Lsn.parse("0/700028");
    static final Lsn LAST_RECORD_END = Lsn.parse("0/7CCAD0");
    /** Starts at 0/7CA4F8, 8253 bytes: crosses a page boundary (0/7CC000). */
    static final Lsn BIG_RECORD = Lsn.parse("0/7CA4F8");

    @TempDir
    Path dir;
    TenantStore store;
    byte[] wal;

    @BeforeEach
    void setUp() throws IOException {
        wal = gunzip("/tenant/000000010000000000000007.partial.gz");
        store = TenantStore.open(dir, false);
        store.putMeta(new TenantMeta(new SystemId(7), "host=127.0.0.1 port=1", 1, 1 << 20, FIRST_RECORD,
            FIRST_RECORD, "slot", false));
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    static byte[] gunzip(String resource) throws IOException {
        try (InputStream in = new GZIPInputStream(WalStreamTest.class.getResourceAsStream(resource))) {
            return in.readAllBytes();
        }
    }

    /** A source that serves the fixture from {@code start} up to {@code end} in odd-sized chunks, then stays open. */
    WalStream.WalSourceFactory source(long endOffset, List<Lsn> starts) {
        return source(wal, endOffset, starts);
    }

    /** As above, of {@code wal} (the fixture's segment); {@code starts} gets every start LSN asked for. */
    static WalStream.WalSourceFactory source(byte[] wal, long endOffset, List<Lsn> starts) {
        return (meta, start) -> {
            starts.add(start);
            WalFeedback feedback = new WalFeedback(start);
            return Source.from(chunks(wal, start, endOffset)).concat(Source.never()).mapMaterializedValue(x -> feedback);
        };
    }

    /** The fixture from {@code start} up to {@code end} in odd-sized chunks. */
    List<WalChunk> chunks(Lsn start, long endOffset) {
        return chunks(wal, start, endOffset);
    }

    /** {@code wal} (the fixture's segment) from {@code start} up to {@code end} in odd-sized chunks. */
    static List<WalChunk> chunks(byte[] wal, Lsn start, long endOffset) {
        List<WalChunk> chunks = new ArrayList<>();
        int off = (int) (start.value() - SEGMENT.value());
        while (off < endOffset) {
            int n = (int) Math.min(7777, endOffset - off);
            byte[] b = new byte[n];
            System.arraycopy(wal, off, b, 0, n);
            chunks.add(new WalChunk(SEGMENT.plus(off), b, SEGMENT.plus(endOffset)));
            off += n;
        }
        return chunks;
    }

    WalStream.WalStatus status(ActorRef<WalStream.Command> ws) {
        TestProbe<WalStream.WalStatus> p = testKit.createTestProbe();
        ws.tell(new WalStream.GetStatus(p.getRef()));
        return p.receiveMessage();
    }

    /** Waits up to 10 s for ingest to stop on bad WAL; returns the status that says so. */
    WalStream.WalStatus awaitBroken(ActorRef<WalStream.Command> ws) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        WalStream.WalStatus s = status(ws);
        while (!s.state().equals("broken") && System.nanoTime() < deadline) {
            Thread.sleep(20);
            s = status(ws);
        }
        assertEquals("broken", s.state());
        return s;
    }

    /**
     * Waits up to 20 s for the store to have everything up to {@code lsn} durably (the batches
     * before a refused record are written after the stream stops), then asserts it is exactly that.
     */
    void assertStoreDurableBecomes(Lsn lsn, String message) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!store.durableLsn().equals(lsn) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(lsn, store.durableLsn(), message);
    }

    WalStream.WalStatus awaitDurable(ActorRef<WalStream.Command> ws, Lsn lsn) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        WalStream.WalStatus s = status(ws);
        while (s.durableLsn().isBefore(lsn) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            s = status(ws);
        }
        return s;
    }

    /** A DurableWal for the tests that do not look at what it is told. */
    ActorRef<DurableWal.Command> durableWal() {
        return testKit.<DurableWal.Command>createTestProbe().getRef();
    }

    @Test
    void tellsTheDurableWalEveryDurableLsnItReaches() throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        TestProbe<DurableWal.Command> durable = testKit.createTestProbe();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), new ArrayList<>()), cache.getRef(),
            durable.getRef()));
        awaitDurable(ws, LAST_RECORD_END);
        // the start first (nothing stored yet), then each batch's end, the last one the end of the WAL
        assertEquals(new DurableWal.Advanced(SEGMENT), durable.receiveMessage());
        Lsn last = SEGMENT;
        while (last.isBefore(LAST_RECORD_END)) {
            Lsn next = ((DurableWal.Advanced) durable.receiveMessage()).durable();
            assertTrue(next.isAfter(last), next + " after " + last);
            last = next;
        }
        assertEquals(LAST_RECORD_END, last);
    }

    @Test
    void storesEveryBlockReferencePgWaldumpListsAndTheRawWal() throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        List<Lsn> starts = new ArrayList<>();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), starts), cache.getRef(), durableWal()));
        WalStream.WalStatus s = awaitDurable(ws, LAST_RECORD_END);
        assertEquals("streaming", s.state());
        assertEquals(LAST_RECORD_END, s.durableLsn());
        assertEquals(LAST_RECORD_END, s.lastRecordLsn());
        assertEquals(LAST_RECORD_END, s.lastValidLsn(), "the primary sends only flushed WAL: up to the last record");
        assertEquals(List.of(SEGMENT), starts, "the first start is the segment start, before the first record");

        // every block reference of every record, as pg_waldump lists them
        Set<String> expected = new TreeSet<>();
        Pattern rec = Pattern.compile("lsn: ([0-9A-F]+/[0-9A-F]+),");
        Pattern blk = Pattern.compile("blkref #\\d+: rel (\\d+)/(\\d+)/(\\d+)(?: fork (\\w+))? blk (\\d+)");
        for (String line : new String(gunzip("/tenant/000000010000000000000007.waldump.txt.gz"),
            StandardCharsets.UTF_8).split("\n")) {
            Matcher r = rec.matcher(line);
            if (!r.find()) {
                continue;
            }
            Lsn start = Lsn.parse(r.group(1));
            Matcher b = blk.matcher(line);
            while (b.find()) {
                String fork = b.group(4) == null ? "main" : b.group(4);
                expected.add(start + " " + b.group(1) + "/" + b.group(2) + "/" + b.group(3) + " " + fork + " " + b.group(5));
            }
        }
        Set<String> stored = new TreeSet<>();
        java.util.concurrent.atomic.AtomicInteger clog = new java.util.concurrent.atomic.AtomicInteger();
        store.forEachRecordEntry((rel, blkno, start, end, change) -> {
            assertTrue(end.isAfter(start));
            if (change == org.pageserver.redo.PageChange.IMPLICIT_VISIBILITY_MAP) {
                return; // visibility map bits a heap record clears without registering the page
            }
            if (change == org.pageserver.redo.PageChange.SLRU_PAGE) {
                assertEquals(org.pageserver.protocol.SlruKind.XACT.rel(), rel, "commit log page of a commit or abort");
                clog.incrementAndGet();
                return;
            }
            stored.add(start + " " + Integer.toUnsignedString(rel.spcNode()) + "/" + Integer.toUnsignedString(rel.dbNode())
                + "/" + Integer.toUnsignedString(rel.relNode()) + " " + forkName(rel.fork()) + " " + Integer.toUnsignedString(blkno));
        });
        assertTrue(expected.size() > 4000, "fixture has " + expected.size() + " block references");
        assertEquals(expected, stored);
        assertTrue(clog.get() > 0, "transaction ends are kept as commit log changes");

        // the raw WAL, byte for byte, from the segment start to the last record boundary
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        store.readWal(SEGMENT, LAST_RECORD_END, (at, buf, off, len) -> raw.write(buf, off, len));
        byte[] want = new byte[(int) (LAST_RECORD_END.value() - SEGMENT.value())];
        System.arraycopy(wal, 0, want, 0, want.length);
        assertArrayEquals(want, raw.toByteArray());
        assertEquals(LAST_RECORD_END, store.durableLsn());

        // relation sizes follow the highest block referenced
        assertTrue(store.relSize(new RelTag(1663, 5, 16384, ForkNumber.MAIN), LAST_RECORD_END).getAsInt() > 30);
    }

    static String forkName(ForkNumber f) {
        return switch (f) {
            case MAIN -> "main";
            case FSM -> "fsm";
            case VISIBILITYMAP -> "vm";
            case INIT -> "init";
        };
    }

    /**
     * The seed's scenario: WAL flushed to the middle of a record. The watermark reaches the
     * flush position, so a GetPage at it is answered at once instead of waiting for the
     * record's end.
     */
    @Test
    void watermarkReachesTheReceivedPositionInsideARecord() throws Exception {
        long mid = BIG_RECORD.value() - SEGMENT.value() + 4000;
        List<Lsn> starts = new ArrayList<>();
        ActorRef<PageCache.Command> cache = testKit.spawn(PageCache.create(store, FIRST_RECORD,
            TestSupport.settings(dir, Duration.ofSeconds(30)), testKit.spawn(RedoWorker.create())));
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(30)), source(mid, starts), cache, durableWal()));
        Lsn flushed = SEGMENT.plus(mid);
        WalStream.WalStatus s = awaitDurable(ws, BIG_RECORD);
        assertEquals(flushed, s.lastValidLsn());
        assertEquals(BIG_RECORD, s.lastRecordLsn(), "the record in flight is not decoded yet");

        TestProbe<PageCache.PageReply> reply = testKit.createTestProbe();
        cache.tell(new PageCache.GetPage(new RelTag(1663, 5, 16384, ForkNumber.MAIN), 21, flushed, false, reply.getRef()));
        PageCache.PageReply r = reply.receiveMessage(Duration.ofSeconds(3));
        if (r instanceof PageCache.ReadFailed f) {
            assertFalse(f.message().contains("not received"), f.message());
        }
        // and a read beyond what was received parks
        cache.tell(new PageCache.GetPage(new RelTag(1663, 5, 16384, ForkNumber.MAIN), 21, flushed.plus(8), false,
            reply.getRef()));
        reply.expectNoMessage(Duration.ofMillis(500));
    }

    @Test
    void resumesFromTheDurableLsnAfterARestart() throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        List<Lsn> starts = new ArrayList<>();
        long mid = BIG_RECORD.value() - SEGMENT.value() + 4000;
        ActorRef<WalStream.Command> first = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(mid, starts), cache.getRef(), durableWal()));
        awaitDurable(first, BIG_RECORD);
        testKit.stop(first);
        ActorRef<WalStream.Command> second = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), starts), cache.getRef(), durableWal()));
        WalStream.WalStatus s = awaitDurable(second, LAST_RECORD_END);
        assertEquals(List.of(SEGMENT, BIG_RECORD), starts, "resumed exactly at the last record boundary stored");
        assertEquals(LAST_RECORD_END, s.durableLsn());
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        store.readWal(SEGMENT, LAST_RECORD_END, (at, buf, off, len) -> raw.write(buf, off, len));
        assertEquals(LAST_RECORD_END.value() - SEGMENT.value(), raw.size(), "no gap, no overlap in the raw WAL");
    }

    /**
     * A connection lost right after the primary sent its last WAL (a primary shutting down):
     * all of it is stored before the stream restarts; the failure neither overtakes the chunks
     * still on their way to the actor nor leaves the records decoded from them unwritten.
     */
    @Test
    void storesEverythingReceivedBeforeTheConnectionWasLost() throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        WalStream.WalSourceFactory lastWalThenLost = (meta, start) -> {
            WalFeedback feedback = new WalFeedback(start);
            return Source.from(chunks(start, LAST_RECORD_END.value() - SEGMENT.value()))
                // lazily: a Source.failed concatenated fails the stream at once, dropping the chunks
                .concatLazy(Source.lazySource(() -> Source.failed(new IllegalStateException("connection lost"))))
                .mapMaterializedValue(x -> feedback);
        };
        testKit.spawn(WalStream.create(store, TestSupport.settings(dir, Duration.ofSeconds(5)), lastWalThenLost,
            cache.getRef(), durableWal()));
        assertStoreDurableBecomes(LAST_RECORD_END, "the WAL received before the loss is stored");
    }

    /**
     * A record bigger than the WAL allowed to wait for storage (BIG_RECORD, 8253 bytes, with 4 kB
     * allowed) cannot be stored before all of it arrived: the stream keeps receiving it instead
     * of waiting for room that no write can make.
     */
    @Test
    void aRecordBiggerThanTheMaxPendingBytesDoesNotStallTheStream() throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5), 4096), source(LAST_RECORD_END.value() - SEGMENT.value(), new ArrayList<>()),
            cache.getRef(), durableWal()));
        assertEquals(LAST_RECORD_END, awaitDurable(ws, LAST_RECORD_END).durableLsn());
    }

    @Test
    void badWalStopsIngestAtThatLsnAndKeepsWhatWasStored() throws Exception {
        // flip a byte inside the record at BIG_RECORD: its CRC fails
        wal[(int) (BIG_RECORD.value() - SEGMENT.value()) + 100] ^= 0x55;
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), new ArrayList<>()), cache.getRef(), durableWal()));
        WalStream.WalStatus s = awaitBroken(ws);
        assertTrue(s.error().contains(BIG_RECORD.toString()), s.error());
        assertStoreDurableBecomes(BIG_RECORD, "everything before the bad record is stored");
        assertEquals(1, s.decodeErrors());
    }

    /**
     * A record of a resource manager PostgreSQL does not have (rmid 30, CRC made right so
     * only the record check can catch it) stops ingest at its start: the records before it
     * are stored, readers are never told the WAL is readable past it, status says why.
     */
    @Test
    void aRecordThatCannotBeRedoneStopsIngestAtItsStart() throws Exception {
        List<org.pageserver.protocol.wal.WalRecord> recs = new ArrayList<>();
        new org.pageserver.protocol.wal.WalDecoder(SEGMENT, 1 << 20).feed(wal, 0, wal.length, recs::add);
        org.pageserver.protocol.wal.WalRecord victim = recs.get(50);
        org.pageserver.protocol.wal.WalRecord before = recs.get(49);
        int off = (int) (victim.startLsn().value() - SEGMENT.value());
        int len = java.nio.ByteBuffer.wrap(wal, off, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
        assertTrue((off % 8192) + len <= 8192, "the record chosen lies within one page");
        wal[off + 17] = 30;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(wal, off + 24, len - 24);
        crc.update(wal, off, 20);
        java.nio.ByteBuffer.wrap(wal, off + 20, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue());

        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), new ArrayList<>()), cache.getRef(), durableWal()));
        WalStream.WalStatus s = awaitBroken(ws);
        assertTrue(s.error().contains("unknown resource manager 30") && s.error().contains(victim.startLsn().toString()),
            s.error());
        assertStoreDurableBecomes(before.endLsn(), "everything before the refused record is stored");
        int watermarks = 0;
        while (true) {
            PageCache.Command c;
            try {
                c = cache.receiveMessage(Duration.ofMillis(200));
            } catch (AssertionError noMore) {
                break;
            }
            watermarks++;
            assertFalse(((PageCache.WalWatermark) c).lsn().isAfter(victim.startLsn()), "watermark past the refused record: " + c);
        }
        assertTrue(watermarks > 0);
    }
    /** Rewrites the CRC of the record at {@code off} (xl_crc over the data, then the header up to it). */
    void fixCrc(int off) {
        int len = java.nio.ByteBuffer.wrap(wal, off, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(wal, off + 24, len - 24);
        crc.update(wal, off, 20);
        java.nio.ByteBuffer.wrap(wal, off + 20, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue());
    }

    /**
     * Ingest of the fixture, with {@code victim} made bad and its CRC right, stops at the
     * victim's start: status is broken with {@code expected} and the LSN, everything before it
     * is stored, and no watermark goes past it.
     */
    void assertIngestStopsAt(org.pageserver.protocol.wal.WalRecord victim, org.pageserver.protocol.wal.WalRecord before,
                             String expected) throws Exception {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        ActorRef<WalStream.Command> ws = testKit.spawn(WalStream.create(store, TestSupport.settings(dir,
            Duration.ofSeconds(5)), source(LAST_RECORD_END.value() - SEGMENT.value(), new ArrayList<>()), cache.getRef(), durableWal()));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        WalStream.WalStatus s = status(ws);
        while (!s.state().equals("broken") && System.nanoTime() < deadline) {
            Thread.sleep(20);
            s = status(ws);
        }
        assertEquals("broken", s.state());
        assertTrue(s.error().contains(expected) && s.error().contains(victim.startLsn().toString()), s.error());
        assertStoreDurableBecomes(before.endLsn(), "everything before the refused record is stored");
        for (org.pageserver.protocol.wal.BlockRef ref : victim.blocks()) {
            assertTrue(store.pageHistory(ref.rel(), ref.blkno(), Lsn.MAX).records().stream()
                .noneMatch(r -> !r.startLsn().isBefore(victim.startLsn())), "nothing stored at or past the refused record");
        }
        PageCache.Command c;
        while (true) {
            try {
                c = cache.receiveMessage(Duration.ofMillis(200));
            } catch (AssertionError noMore) {
                break;
            }
            assertFalse(((PageCache.WalWatermark) c).lsn().isAfter(victim.startLsn()), "watermark past the refused record: " + c);
        }
    }

    List<org.pageserver.protocol.wal.WalRecord> decoded() {
        List<org.pageserver.protocol.wal.WalRecord> recs = new ArrayList<>();
        new org.pageserver.protocol.wal.WalDecoder(SEGMENT, 1 << 20).feed(wal, 0, wal.length, recs::add);
        return recs;
    }

    /** A record of a resource manager we redo with a record type PostgreSQL 15 does not have (Btree 0xF0). */
    @Test
    void anUnknownRecordTypeStopsIngestAtItsStart() throws Exception {
        List<org.pageserver.protocol.wal.WalRecord> recs = decoded();
        int i = 60;
        while (recs.get(i).rmid() != org.pageserver.protocol.wal.RmgrId.RM_HEAP_ID) {
            i++;
        }
        org.pageserver.protocol.wal.WalRecord victim = recs.get(i);
        int off = (int) (victim.startLsn().value() - SEGMENT.value());
        wal[off + 16] = (byte) 0xF0; // xl_info
        wal[off + 17] = (byte) org.pageserver.protocol.wal.RmgrId.RM_BTREE_ID; // xl_rmid
        fixCrc(off);
        assertIngestStopsAt(victim, recs.get(i - 1), "unknown Btree record type (xl_info 0xf0)");
    }

    /**
     * A heap INSERT whose block data is cut below its xl_heap_header (the bytes moved to the
     * main data, so the record still decodes and its CRC is right): refused at ingest, where
     * before it was stored and only the reads of its page failed.
     */
    @Test
    void aHeapInsertWithTooShortBlockDataStopsIngestAtItsStart() throws Exception {
        List<org.pageserver.protocol.wal.WalRecord> recs = decoded();
        int i = 40;
        while (true) {
            org.pageserver.protocol.wal.WalRecord r = recs.get(i);
            if (r.rmid() == org.pageserver.protocol.wal.RmgrId.RM_HEAP_ID && (r.info() & 0x70) == 0 && r.blocks().size() == 1
                && !r.block(0).hasImage() && r.block(0).data() != null && r.block(0).data().length > 5
                && r.mainData().length + r.block(0).data().length - 4 < 256 && r.origin() == 0
                && (r.startLsn().value() % 8192) + r.raw().length <= 8192) {
                break;
            }
            i++;
        }
        org.pageserver.protocol.wal.WalRecord victim = recs.get(i);
        int off = (int) (victim.startLsn().value() - SEGMENT.value());
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(wal).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        // XLogRecord (24), block header: id, fork_flags, data_length u16, RelFileNode (12), blkno
        assertEquals(0, wal[off + 24]);
        assertEquals(0, wal[off + 25] & (org.pageserver.protocol.wal.BlockRef.BKPBLOCK_SAME_REL
            | org.pageserver.protocol.wal.BlockRef.BKPBLOCK_HAS_IMAGE));
        int dataLen = b.getShort(off + 26) & 0xFFFF;
        assertEquals(victim.block(0).data().length, dataLen);
        int mainHdr = off + 24 + 4 + 12 + 4;
        assertEquals(255, wal[mainHdr] & 0xFF, "XLR_BLOCK_ID_DATA_SHORT");
        int mainLen = wal[mainHdr + 1] & 0xFF;
        b.putShort(off + 26, (short) 4);
        wal[mainHdr + 1] = (byte) (mainLen + dataLen - 4);
        fixCrc(off);
        assertIngestStopsAt(victim, recs.get(i - 1), "Heap INSERT record: block 0 data of 4 bytes, at least 5 needed");
    }
}
