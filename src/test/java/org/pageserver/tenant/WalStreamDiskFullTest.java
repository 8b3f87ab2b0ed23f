package org.pageserver.tenant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.engine.BatchWriter;
import org.pageserver.metrics.Metrics;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.storage.StorageException;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.slf4j.LoggerFactory;

/**
 * The WAL-stream actor on a full disk, with a writer that fails as RocksDB does on ENOSPC while
 * the test says the disk is full (the store itself is fine, so every retry gets as far as the
 * write): ingest pauses at the durable LSN, says so once, in status and in the metrics, streams
 * again from there at each retry, and once writes succeed catches up and holds exactly what an
 * uninterrupted ingest of the same WAL holds.
 */
@ExtendWith(TestKitJUnit5Extension.class)
class WalStreamDiskFullTest {
    @JUnit5TestKit
    ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestSupport.config()).build();

    static final SystemId ID = new SystemId(7);
    static final String ENOSPC = "While appending to file: 000012.log: No space left on device";
    static final long END = WalStreamTest.LAST_RECORD_END.value() - WalStreamTest.SEGMENT.value();

    @TempDir
    Path dir;
    byte[] wal;
    TenantStore store;
    TenantStore reference;
    final Metrics metrics = Metrics.detached();
    final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeEach
    void setUp() throws IOException {
        wal = WalStreamTest.gunzip("/tenant/000000010000000000000007.partial.gz");
        store = open(dir.resolve("paused"));
        reference = open(dir.resolve("reference"));
        log.start();
        root().addAppender(log);
    }

    @AfterEach
    void tearDown() {
        root().detachAppender(log);
        store.close();
        reference.close();
    }

    static Logger root() {
        return (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }

    static TenantStore open(Path d) {
        TenantStore s = TenantStore.open(d, false);
        s.putMeta(new TenantMeta(ID, "host=127.0.0.1 port=1", 1, 1 << 20, WalStreamTest.FIRST_RECORD,
            WalStreamTest.FIRST_RECORD, "slot", false));
        return s;
    }

    static StorageException noSpace(TenantStore s) {
        return new StorageException("write to " + s.dir() + " failed: " + ENOSPC,
            new RocksDBException(ENOSPC, new Status(Status.Code.IOError, Status.SubCode.NoSpace, ENOSPC)));
    }

    /**
     * Production's writer, except that while {@code full} is set every write fails as on a full
     * disk (counted in {@code failures}); the first write that succeeds sets {@code full} when
     * {@code fillAfterFirst} is.
     */
    static WalStream.Writers writers(TenantStore s, AtomicBoolean full, AtomicBoolean fillAfterFirst,
                                     AtomicInteger failures, StorageException failure) {
        return meta -> {
            BatchWriter real = new BatchWriter(s, meta.startLsn(), meta.hintsLogged());
            return batch -> {
                if (full.get()) {
                    failures.incrementAndGet();
                    throw failure;
                }
                var changes = real.write(batch);
                if (fillAfterFirst.getAndSet(false)) {
                    full.set(true);
                }
                return changes;
            };
        };
    }

    ActorRef<WalStream.Command> spawn(TenantStore s, List<Lsn> starts, TenantMetrics m, WalStream.Writers w) {
        TestProbe<PageCache.Command> cache = testKit.createTestProbe();
        TestProbe<DurableWal.Command> durable = testKit.createTestProbe();
        return testKit.spawn(WalStream.create(s, TestSupport.settings(dir, Duration.ofSeconds(5)),
            WalStreamTest.source(wal, END, starts), cache.getRef(), durable.getRef(), m, w));
    }

    WalStream.WalStatus status(ActorRef<WalStream.Command> ws) {
        TestProbe<WalStream.WalStatus> p = testKit.createTestProbe();
        ws.tell(new WalStream.GetStatus(p.getRef()));
        return p.receiveMessage();
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(10);
        }
    }

    double sample(String name) {
        for (MetricSnapshot s : metrics.snapshot()) {
            if (!s.getMetadata().getPrometheusName().equals(name)) {
                continue;
            }
            for (DataPointSnapshot p : s.getDataPoints()) {
                if (p instanceof GaugeSnapshot.GaugeDataPointSnapshot g) {
                    return g.getValue();
                }
                if (p instanceof CounterSnapshot.CounterDataPointSnapshot c) {
                    return c.getValue();
                }
            }
        }
        throw new AssertionError("no sample of " + name);
    }

    List<String> errorLines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : List.copyOf(log.list)) {
            if (e.getLevel() == Level.ERROR) {
                out.add(e.getFormattedMessage());
            }
        }
        return out;
    }

    @Test
    void aFullDiskPausesIngestAtTheDurableLsnAndItResumesThereWhenSpaceReturns() throws Exception {
        AtomicBoolean full = new AtomicBoolean();
        AtomicInteger failures = new AtomicInteger();
        List<Lsn> starts = new CopyOnWriteArrayList<>();
        ActorRef<WalStream.Command> ws = spawn(store, starts, metrics.tenant(ID),
            writers(store, full, new AtomicBoolean(true), failures, noSpace(store)));
        await(() -> failures.get() >= 3, "the write was not retried");

        Lsn paused = store.durableLsn();
        assertTrue(paused.isAfter(WalStreamTest.SEGMENT), "the first batch went in before the disk filled: " + paused);
        WalStream.WalStatus s = status(ws);
        assertEquals("disk full", s.state());
        assertEquals(paused, s.durableLsn(), "nothing past what is stored is durable");
        assertEquals(store.dir() + ": ingest paused at " + paused + ", retrying every 100ms (" + ENOSPC + ")",
            s.error());
        assertEquals(1.0, sample("pageserver_disk_full"));
        assertEquals(1.0, sample("pageserver_disk_full_episodes"));
        assertEquals(WalStreamTest.SEGMENT, starts.get(0));
        List<Lsn> retries = starts.subList(1, starts.size());
        assertTrue(retries.size() >= 2, "streamed again at each retry: " + starts);
        assertEquals(List.of(paused), retries.stream().distinct().toList(), "every retry streams from the durable LSN");

        full.set(false);
        await(() -> status(ws).durableLsn().equals(WalStreamTest.LAST_RECORD_END), "ingest did not catch up");
        s = status(ws);
        assertEquals("streaming", s.state());
        assertNull(s.error());
        assertEquals(0.0, sample("pageserver_disk_full"));
        assertEquals(1.0, sample("pageserver_disk_full_episodes"), "one episode, however many retries failed");
        assertEquals(List.of("tenant " + ID + ": disk full (" + store.dir() + "): ingest paused at " + paused
            + ", retrying every 100ms: " + ENOSPC), errorLines(), failures.get() + " failed writes, one line");

        ActorRef<WalStream.Command> uninterrupted = spawn(reference, new ArrayList<>(),
            TenantMetrics.detached(ID), writers(reference, new AtomicBoolean(), new AtomicBoolean(), failures, null));
        await(() -> status(uninterrupted).durableLsn().equals(WalStreamTest.LAST_RECORD_END),
            "the reference ingest did not finish");
        assertEquals(contents(reference), contents(store), "the store holds what an uninterrupted ingest holds");
        assertArrayEquals(rawWal(reference), rawWal(store), "the raw WAL, without gap or overlap");
    }

    @Test
    void aWriteFailureOtherThanAFullDiskStillStopsIngest() throws Exception {
        String eio = "While appending to file: 000012.log: Input/output error";
        StorageException failure = new StorageException("write to " + store.dir() + " failed: " + eio,
            new RocksDBException(eio, new Status(Status.Code.IOError, Status.SubCode.None, eio)));
        AtomicInteger failures = new AtomicInteger();
        ActorRef<WalStream.Command> ws = spawn(store, new ArrayList<>(), metrics.tenant(ID),
            writers(store, new AtomicBoolean(), new AtomicBoolean(true), failures, failure));
        await(() -> status(ws).state().equals("broken"), "ingest did not stop");
        Lsn stored = store.durableLsn();
        String error = status(ws).error();
        assertTrue(error.startsWith("storage write failed, ingest stopped: ") && error.endsWith(failure.getMessage()),
            error);
        assertEquals(0.0, sample("pageserver_disk_full"));
        assertEquals(0.0, sample("pageserver_disk_full_episodes"));
        assertEquals(1, failures.get(), "no write after the failed one: its records would be missing under the next");
        assertEquals(stored, status(ws).durableLsn());
    }

    /** Every record entry of the page store, the relations and their sizes, and the files, as of the end. */
    static List<String> contents(TenantStore s) {
        List<String> out = new ArrayList<>();
        s.forEachRecordEntry((rel, blkno, start, end, change) ->
            out.add(rel + " " + Integer.toUnsignedString(blkno) + " " + start + " " + end + " " + change));
        out.add("relations " + s.relations(WalStreamTest.LAST_RECORD_END));
        for (String f : s.files(WalStreamTest.LAST_RECORD_END)) {
            out.add(f + " " + java.util.Arrays.hashCode(s.file(f, WalStreamTest.LAST_RECORD_END).orElseThrow()));
        }
        return out;
    }

    static byte[] rawWal(TenantStore s) {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        s.readWal(WalStreamTest.SEGMENT, WalStreamTest.LAST_RECORD_END, (at, buf, off, len) -> raw.write(buf, off, len));
        return raw.toByteArray();
    }
}
