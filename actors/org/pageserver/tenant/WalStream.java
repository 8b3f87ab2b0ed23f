package org.pageserver.tenant;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.pageserver.engine.BatchWriter;
import org.pageserver.engine.WalBatch;
import org.pageserver.engine.WalIngest;
import org.pageserver.storage.DiskFull;
import org.pageserver.storage.StoreChanges;
import org.pageserver.Settings;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.WalDecodeException;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.streams.replication.WalChunk;
import org.pageserver.streams.replication.WalFeedback;

/**
 * Follows one primary's WAL: receives it from the WAL receiver stream, advances the last-valid
 * LSN on every byte received (mid-record included), decodes records and stores them, and
 * tells the page cache how far readers may go.
 *
 * <p>The watermark handed to the page cache is the received position once every record that
 * ends at or before it is stored: a GetPage at a flush position inside a record is answered as
 * soon as the records before that position are in, never waiting for the record that straddles it.
 *
 * <p>A failed stream (connection lost) fails this actor once everything received before the
 * loss is stored, so its supervisor restarts it with backoff from the durable LSN: no gap, no
 * duplicate. Bad WAL
 * stops ingest at that LSN for good (it would fail the same way again): the tenant keeps
 * serving what it has and reports the error in {@code status}.
 *
 * <p>A write that fails on a full disk ({@link DiskFull}) pauses ingest instead: the stream is
 * stopped (the primary keeps the WAL from the durable LSN in the slot), reads go on from what is
 * stored, and every {@code pageserver.storage.disk-full-retry} a probe asks whether the store
 * takes writes again; when it does, the stream starts again from the durable LSN, with a new
 * decoder and writer (the failed batch left the writer's relation sizes ahead of the store).
 * A write that fails again on a full disk only pauses again: the episode, logged once and
 * counted in the metrics, ends at the first write that succeeds.
 */
public final class WalStream {

    public sealed interface Command permits GetStatus, StreamInit, ChunkReceived, StreamCompleted, StreamFailed,
        Positions, BatchWritten, BatchFailed, RetryWrites, Probed {
    }

    public record GetStatus(ActorRef<WalStatus> replyTo) implements Command {
    }

    /** Where ingest stands; {@code error} is null unless ingest stopped on bad WAL or storage. */
    public record WalStatus(String state, Lsn lastValidLsn, Lsn lastRecordLsn, Lsn durableLsn, long decodeErrors,
                            String error) {
    }

    /** Creates the WAL source from a start LSN; production: the replication connection. */
    @FunctionalInterface
    public interface WalSourceFactory {
        Source<WalChunk, WalFeedback> open(TenantMeta meta, Lsn start);
    }

    // messages from the receiver stream (ActorSink protocol)
    enum Ack { INSTANCE }

    record StreamInit(ActorRef<Ack> ackTo) implements Command {
    }

    record ChunkReceived(WalChunk chunk, ActorRef<Ack> ackTo) implements Command {
    }

    enum StreamCompleted implements Command { INSTANCE }

    record StreamFailed(Throwable cause) implements Command {
    }

    /** What the receiver stream carries: a chunk, or the failure that ended the stream. */
    private record Received(WalChunk chunk, Throwable failure) {
    }

    // private, fed by pipeToSelf
    private record Positions(Lsn durable, Lsn lastRecord, TenantMeta meta, Throwable failure) implements Command {
    }

    private record BatchWritten(WalBatch batch, StoreChanges changes) implements Command {
    }

    private record BatchFailed(Throwable cause) implements Command {
    }

    private enum RetryWrites implements Command { INSTANCE }

    /** The disk-full probe's outcome: {@code failure} null when the store takes writes again. */
    private record Probed(Throwable failure) implements Command {
    }

    /** Stores one batch durably and says what it made stale (production: {@link BatchWriter#write}). */
    @FunctionalInterface
    interface Writer {
        StoreChanges write(WalBatch batch);
    }

    /** A writer for each WAL stream, which starts from what the store holds. */
    @FunctionalInterface
    interface Writers {
        Writer open(TenantMeta meta);
    }

    /** Raised to make the supervisor restart the stream with backoff. */
    static final class StreamLost extends RuntimeException {
        StreamLost(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * @param durableWal told every durable LSN the stream reaches, for the walsenders waiting
     *                   for the stored WAL to grow
     */
    public static Behavior<Command> create(TenantStore store, Settings settings, WalSourceFactory sources,
                                           ActorRef<PageCache.Command> pageCache,
                                           ActorRef<DurableWal.Command> durableWal) {
        return create(store, settings, sources, pageCache, durableWal,
            TenantMetrics.detached(new org.pageserver.protocol.SystemId(0)));
    }

    public static Behavior<Command> create(TenantStore store, Settings settings, WalSourceFactory sources,
                                           ActorRef<PageCache.Command> pageCache, ActorRef<DurableWal.Command> durableWal,
                                           TenantMetrics metrics) {
        return create(store, settings, sources, pageCache, durableWal, metrics,
            meta -> new BatchWriter(store, meta.startLsn(), meta.hintsLogged())::write);
    }

    static Behavior<Command> create(TenantStore store, Settings settings, WalSourceFactory sources,
                                    ActorRef<PageCache.Command> pageCache, ActorRef<DurableWal.Command> durableWal,
                                    TenantMetrics metrics, Writers writers) {
        return Behaviors.setup(ctx -> {
            Executor blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
            return new WalStream(ctx, store, settings, sources, pageCache, durableWal, blocking, metrics, writers)
                .starting();
        });
    }

    private final ActorContext<Command> ctx;
    private final TenantStore store;
    private final Settings settings;
    private final WalSourceFactory sources;
    private final ActorRef<PageCache.Command> pageCache;
    private final ActorRef<DurableWal.Command> durableWal;
    private final Executor blocking;
    private final TenantMetrics metrics;
    private final Writers writers;

    private org.pageserver.protocol.SystemId systemId;
    /** Set at the first WAL received from the primary: the stream is connected. */
    private boolean receiving;
    private WalIngest ingest;
    /** Used by one blocking task at a time: {@link #writing} says one is in flight. */
    private Writer writer;
    private WalFeedback feedback;
    private UniqueKillSwitch killSwitch;
    private Lsn durable = Lsn.INVALID;
    private Lsn watermark = Lsn.INVALID;
    private boolean writing;
    /** The receiver stream runs: its end (StreamCompleted or StreamFailed) has not arrived yet. */
    private boolean streamOpen;
    private ActorRef<Ack> heldAck;
    private String error;
    /** What {@code status} says while ingest is paused on a full disk. */
    private String diskFullError;

    private WalStream(ActorContext<Command> ctx, TenantStore store, Settings settings, WalSourceFactory sources,
                      ActorRef<PageCache.Command> pageCache, ActorRef<DurableWal.Command> durableWal,
                      Executor blocking, TenantMetrics metrics, Writers writers) {
        this.metrics = metrics;
        this.writers = writers;
        this.ctx = ctx;
        this.store = store;
        this.settings = settings;
        this.sources = sources;
        this.pageCache = pageCache;
        this.durableWal = durableWal;
        this.blocking = blocking;
    }

    /** Reading the durable position from the store, then streaming from it. */
    private Behavior<Command> starting() {
        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> store.meta().orElseThrow(), blocking)
                .thenApply(m -> new Positions(store.durableLsn(), store.lastRecordLsn(), m, null)),
            (p, e) -> e != null ? new Positions(null, null, null, e) : p);
        return Behaviors.receive(Command.class)
            .onMessage(Positions.class, this::onPositions)
            .onMessage(GetStatus.class, m -> reply(m, "starting"))
            .build();
    }

    private Behavior<Command> onPositions(Positions p) {
        if (p.failure() != null) {
            throw new StreamLost("cannot read tenant positions", p.failure());
        }
        TenantMeta meta = p.meta();
        systemId = meta.systemId();
        Lsn segStart = meta.startLsn().segmentStart(meta.walSegSize());
        // Resume at the last record boundary stored; the first time, at the start of the
        // segment holding the backup's redo pointer (a page boundary, so always decodable,
        // and before the first record needed).
        Lsn start = p.durable().isValid() && !p.durable().isBefore(segStart) ? p.durable() : segStart;
        durable = start;
        // reads below the consistent point are refused by the page cache; the watermark only
        // says how far the WAL is stored
        watermark = start;
        ingest = new WalIngest(start, meta.walSegSize());
        writer = writers.open(meta);
        receiving = false;
        writing = false;
        heldAck = null;
        metrics.streamStarted();
        metrics.durableAt(durable);
        pageCache.tell(new PageCache.WalWatermark(watermark));
        durableWal.tell(new DurableWal.Advanced(durable));
        ctx.getLog().info("tenant {} connecting: WAL stream from {}", meta.systemId(), start);
        // The failure travels as an element, behind the chunks received before it: the sink
        // sends a failure at once, dropping the chunks it holds until they are acknowledged.
        Pair<Pair<WalFeedback, UniqueKillSwitch>, ?> mat = sources.open(meta, start)
            .viaMat(KillSwitches.single(), Keep.both())
            .map(c -> new Received(c, null))
            .recover(new PFBuilder<Throwable, Received>().match(Throwable.class, e -> new Received(null, e)).build())
            .toMat(ActorSink.actorRefWithBackpressure(ctx.getSelf(),
                (ActorRef<Ack> ackTo, Received r) -> r.failure() == null ? new ChunkReceived(r.chunk(), ackTo)
                    : new StreamFailed(r.failure()),
                StreamInit::new, Ack.INSTANCE, StreamCompleted.INSTANCE, StreamFailed::new), Keep.both())
            .run(ctx.getSystem());
        feedback = mat.first().first();
        killSwitch = mat.first().second();
        streamOpen = true;
        return streaming();
    }

    private Behavior<Command> streaming() {
        return Behaviors.receive(Command.class)
            .onMessage(StreamInit.class, m -> ack(m.ackTo()))
            .onMessage(ChunkReceived.class, this::onChunk)
            .onMessage(BatchWritten.class, this::onWritten)
            .onMessage(BatchFailed.class, this::onWriteFailed)
            .onMessage(StreamCompleted.class, m -> {
                streamOpen = false;
                return lost(new IllegalStateException("primary ended the WAL stream"));
            })
            .onMessage(StreamFailed.class, m -> {
                streamOpen = false;
                return lost(m.cause());
            })
            .onMessage(GetStatus.class, m -> reply(m, "streaming"))
            .onSignal(PostStop.class, this::release)
            .onSignal(PreRestart.class, this::release)
            .build();
    }

    private Behavior<Command> onChunk(ChunkReceived m) {
        WalChunk c = m.chunk();
        if (!receiving) {
            receiving = true;
            ctx.getLog().info("tenant {} streaming from {}", systemId, c.start());
        }
        try {
            ingest.receive(c.start(), c.data());
        } catch (WalDecodeException e) {
            metrics.walRefused();
            return broken("bad WAL, ingest stopped: " + e.getMessage(), e, true);
        }
        metrics.walReceived(c.data().length, ingest.recordsDecoded(), ingest.received(), ingest.lastRecordEnd(),
            c.serverWalEnd(), c.sendTime());
        flush();
        pace(m.ackTo());
        return Behaviors.same();
    }

    /**
     * Acknowledges a chunk, unless more WAL than allowed waits for storage and the write in
     * flight will make room. With no write in flight, the WAL pending is a record still
     * arriving that is bigger than the limit (up to XLogRecordMaxSize): nothing can be stored
     * before the rest of it, so the stream goes on.
     */
    private void pace(ActorRef<Ack> ackTo) {
        if (writing && ingest.pendingBytes() > settings.maxPendingBytes()) {
            heldAck = ackTo;
        } else {
            ackTo.tell(Ack.INSTANCE);
        }
    }

    /** Starts a write if none is in flight, or advances the watermark when nothing needs storing. */
    private void flush() {
        if (writing) {
            return;
        }
        if (ingest.hasPending()) {
            WalBatch batch = ingest.takeBatch();
            writing = true;
            Writer w = writer;
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> w.write(batch), blocking),
                (changes, e) -> e == null ? new BatchWritten(batch, changes) : new BatchFailed(e));
        } else {
            advanceWatermark(ingest.readableUpTo());
        }
    }

    private Behavior<Command> onWritten(BatchWritten m) {
        writing = false;
        durable = m.batch().durableLsn();
        if (metrics.diskFullEnded()) {
            diskFullError = null;
            ctx.getLog().info("tenant {}: disk space available again: ingest resumed, durable at {}", systemId, durable);
        }
        metrics.walStored(m.batch().wal().length, m.batch().records().size(), durable);
        durableWal.tell(new DurableWal.Advanced(durable));
        if (feedback != null) {
            feedback.update(durable, durable, durable);
        }
        advanceWatermark(m.batch().receivedLsn(), m.changes());
        // also after ingest broke: the good records decoded before the bad one still go in
        flush();
        if (heldAck != null) {
            ActorRef<Ack> held = heldAck;
            heldAck = null;
            pace(held);
        }
        return Behaviors.same();
    }

    private void advanceWatermark(Lsn lsn) {
        advanceWatermark(lsn, org.pageserver.storage.StoreChanges.NONE);
    }

    /**
     * The changes travel with the watermark that makes them visible, in one message: the page
     * cache never sees an LSN without knowing which of its pages that LSN made stale.
     */
    private void advanceWatermark(Lsn lsn, org.pageserver.storage.StoreChanges changes) {
        if (lsn.isAfter(watermark)) {
            watermark = lsn;
            pageCache.tell(new PageCache.WalWatermark(lsn, changes));
        } else if (!changes.isEmpty()) {
            // cannot happen (a batch always ends past the previous watermark), but stale pages
            // must never be served: pass the changes on anyway
            pageCache.tell(new PageCache.WalWatermark(watermark, changes));
        }
    }

    private Behavior<Command> onWriteFailed(BatchFailed m) {
        writing = false;
        java.util.Optional<String> full = DiskFull.detail(m.cause());
        if (full.isPresent()) {
            return diskFull(full.get());
        }
        return broken("storage write failed, ingest stopped: " + m.cause().getMessage(), m.cause(), false);
    }

    /**
     * The disk is full: stop receiving (nothing past the durable LSN is acknowledged, so the
     * primary keeps it), keep serving what is stored, and probe for room every retry interval.
     */
    private Behavior<Command> diskFull(String detail) {
        stopReceiving();
        if (heldAck != null) {
            heldAck.tell(Ack.INSTANCE);
            heldAck = null;
        }
        String retry = asConfigured(settings.diskFullRetry());
        diskFullError = store.dir() + ": ingest paused at " + durable + ", retrying every " + retry + " (" + detail + ")";
        if (metrics.diskFullBegan()) {
            ctx.getLog().error("tenant {}: disk full ({}): ingest paused at {}, retrying every {}: {}", systemId,
                store.dir(), durable, retry, detail);
        }
        ctx.scheduleOnce(settings.diskFullRetry(), ctx.getSelf(), RetryWrites.INSTANCE);
        return Behaviors.receive(Command.class)
            .onMessage(RetryWrites.class, m -> {
                if (streamOpen) {
                    // its last messages must not reach the next stream's ingest
                    ctx.scheduleOnce(settings.diskFullRetry(), ctx.getSelf(), RetryWrites.INSTANCE);
                    return Behaviors.same();
                }
                ctx.pipeToSelf(CompletableFuture.runAsync(() -> DiskFull.probe(store), blocking),
                    (v, e) -> new Probed(e));
                return Behaviors.same();
            })
            .onMessage(Probed.class, m -> {
                if (m.failure() == null) {
                    return starting();
                }
                java.util.Optional<String> still = DiskFull.detail(m.failure());
                if (still.isPresent()) {
                    ctx.getLog().debug("tenant {}: disk still full: {}", systemId, still.get());
                    ctx.scheduleOnce(settings.diskFullRetry(), ctx.getSelf(), RetryWrites.INSTANCE);
                    return Behaviors.same();
                }
                return broken("storage write failed, ingest stopped: " + m.failure().getMessage(), m.failure(), false);
            })
            .onMessage(GetStatus.class, m -> reply(m, "disk full"))
            // what the stopped receiver still delivers: acknowledged (so that it drains) and dropped
            .onMessage(StreamInit.class, m -> ack(m.ackTo()))
            .onMessage(ChunkReceived.class, m -> ack(m.ackTo()))
            .onMessage(StreamCompleted.class, m -> streamEnded())
            .onMessage(StreamFailed.class, m -> streamEnded())
            .onSignal(PostStop.class, this::release)
            .onSignal(PreRestart.class, this::release)
            .build();
    }

    /**
     * The connection is gone: everything received before is stored (a primary shut down for
     * good after sending its last WAL leaves nowhere else to get it from), then the actor fails
     * for a restart.
     */
    private Behavior<Command> lost(Throwable cause) {
        metrics.reconnecting();
        ctx.getLog().warn("tenant {} reconnecting: WAL stream lost at {}: {}", systemId, ingest.received(),
            cause.toString());
        flush();
        if (!writing) {
            throw new StreamLost("WAL stream lost", cause);
        }
        return Behaviors.receive(Command.class)
            .onMessage(BatchWritten.class, m -> {
                onWritten(m);
                if (writing) {
                    return Behaviors.same();
                }
                throw new StreamLost("WAL stream lost", cause);
            })
            .onMessage(BatchFailed.class, this::onWriteFailed)
            .onMessage(GetStatus.class, m -> reply(m, "reconnecting"))
            .onSignal(PostStop.class, this::release)
            .onSignal(PreRestart.class, this::release)
            .onAnyMessage(m -> Behaviors.same())
            .build();
    }

    /**
     * Ingest stopped for good: keep what is stored, keep answering status.
     *
     * @param storeDecoded store the records decoded before the failure (bad WAL); never after a
     *                     failed write, whose records would be missing under the later ones
     */
    private Behavior<Command> broken(String message, Throwable cause, boolean storeDecoded) {
        error = message;
        ctx.getLog().error("tenant {} broken at {}: {}", systemId, storeDecoded ? ingest.readableUpTo() : durable, message);
        ctx.getLog().debug("tenant {} broken", systemId, cause);
        if (killSwitch != null) {
            killSwitch.shutdown();
        }
        if (feedback != null) {
            feedback.cancel();
        }
        if (storeDecoded) {
            // the good records decoded before the bad one
            flush();
        }
        return Behaviors.receive(Command.class)
            .onMessage(BatchWritten.class, this::onWritten)
            .onMessage(BatchFailed.class, m -> {
                writing = false;
                return Behaviors.same();
            })
            .onMessage(ChunkReceived.class, m -> Behaviors.same())
            .onMessage(GetStatus.class, m -> reply(m, "broken"))
            .onSignal(PostStop.class, this::release)
            .onSignal(PreRestart.class, this::release)
            .onAnyMessage(m -> Behaviors.same())
            .build();
    }

    /** The actor stops or restarts: the receiver's connection goes with it. */
    private Behavior<Command> release(Signal signal) {
        stopReceiving();
        return Behaviors.same();
    }

    private Behavior<Command> ack(ActorRef<Ack> ackTo) {
        ackTo.tell(Ack.INSTANCE);
        return Behaviors.same();
    }

    private Behavior<Command> streamEnded() {
        streamOpen = false;
        return Behaviors.same();
    }

    /** A duration as the configuration writes it (1s, 250ms). */
    static String asConfigured(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    private void stopReceiving() {
        if (killSwitch != null) {
            killSwitch.shutdown();
        }
        if (feedback != null) {
            feedback.cancel();
        }
    }

    /** While a full disk pauses ingest (retries included, until a write succeeds), the state says so. */
    private Behavior<Command> reply(GetStatus m, String state) {
        boolean full = metrics.diskFull() && error == null;
        String shown = full ? "disk full" : state;
        String why = full ? diskFullError : error;
        if (ingest == null) {
            m.replyTo().tell(new WalStatus(shown, Lsn.INVALID, Lsn.INVALID, durable, 0, why));
        } else {
            m.replyTo().tell(new WalStatus(shown, ingest.received(), ingest.lastRecordEnd(), durable,
                ingest.decodeErrors(), why));
        }
        return Behaviors.same();
    }
}
