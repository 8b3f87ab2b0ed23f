package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.streams.replication.ReplicationConnection;
import org.pageserver.streams.replication.WalFeedback;
import org.pageserver.streams.replication.WalReceiverSource;

/**
 * The WAL receiver holds no thread while it streams: twelve receivers on a blocking pool of two
 * threads all follow the primary (each blocked on its socket, as they once were, only two
 * would), report their flush position to it, and let go of their walsender when cancelled.
 */
class WalReceiverThreadsIT {
    private static final int RECEIVERS = 12;
    private static final Duration STATUS_INTERVAL = Duration.ofSeconds(10);

    private PgCluster pg;
    private ActorSystem<Void> system;

    @BeforeEach
    void start() throws Exception {
        pg = PgCluster.builder().set("max_wal_senders", "20").set("max_replication_slots", "20").start();
        system = ActorSystem.create(Behaviors.empty(), "receivers", ConfigFactory.parseString(
            "two-threads { type = Dispatcher, executor = thread-pool-executor,"
                + " thread-pool-executor.fixed-pool-size = 2 }").withFallback(ConfigFactory.load()));
    }

    @AfterEach
    void stop() {
        system.terminate();
        pg.close();
    }

    private record Receiver(String slot, WalFeedback feedback, AtomicLong received) {
    }

    private List<Receiver> startReceivers(Lsn from) {
        ConnInfo conninfo = ConnInfo.parse(pg.conninfo());
        List<Receiver> receivers = new ArrayList<>();
        for (int i = 0; i < RECEIVERS; i++) {
            String slot = "receiver_" + i;
            try (ReplicationConnection c = ReplicationConnection.open(conninfo, Duration.ofSeconds(10))) {
                c.createPhysicalSlot(slot);
            }
            AtomicLong received = new AtomicLong();
            WalFeedback feedback = WalReceiverSource.create(conninfo, slot, 1, from, Duration.ofSeconds(10),
                    STATUS_INTERVAL, Duration.ofSeconds(60), "two-threads")
                .toMat(Sink.foreach(c -> received.accumulateAndGet(c.end().value(), Math::max)), Keep.left())
                .run(system);
            receivers.add(new Receiver(slot, feedback, received));
        }
        return receivers;
    }

    private Lsn segmentStartOfFlush() throws Exception {
        return new Lsn(pg.flushLsn().value() & ~((16L << 20) - 1));
    }

    @Test
    void moreReceiversStreamThanTheBlockingPoolHasThreads() throws Exception {
        List<Receiver> receivers = startReceivers(segmentStartOfFlush());
        pg.psql("create table t as select g from generate_series(1, 10000) g");
        Lsn target = pg.flushLsn();
        Conditions.await(Duration.ofSeconds(60), () -> receivers.stream().allMatch(r -> r.received().get() >= target.value()),
            () -> "receivers behind " + target + ": " + receivers.stream().map(r -> new Lsn(r.received().get()).toString()).toList());
    }

    @Test
    void aFlushPositionReachesThePrimaryWithoutWaitingForTheStatusInterval() throws Exception {
        List<Receiver> receivers = startReceivers(segmentStartOfFlush());
        pg.psql("create table t as select g from generate_series(1, 10000) g");
        Lsn target = pg.flushLsn();
        Receiver r = receivers.get(0);
        Conditions.await(Duration.ofSeconds(60), () -> r.received().get() >= target.value(), () -> "WAL not received");
        r.feedback().update(target, target, target);
        Conditions.await(Duration.ofSeconds(STATUS_INTERVAL.toSeconds() / 2), () -> target.toString().equals(
                pg.psql("select restart_lsn from pg_replication_slots where slot_name = '" + r.slot() + "'")),
            () -> "the slot's restart_lsn did not reach " + target);
    }

    @Test
    void aCancelledReceiverLetsGoOfItsWalsender() throws Exception {
        List<Receiver> receivers = startReceivers(segmentStartOfFlush());
        Conditions.await(Duration.ofSeconds(60), () -> Integer.parseInt(
            pg.psql("select count(*) from pg_replication_slots where active")) == RECEIVERS, () -> "not all active");
        receivers.forEach(r -> r.feedback().cancel());
        Conditions.await(Duration.ofSeconds(30), () -> Integer.parseInt(
            pg.psql("select count(*) from pg_replication_slots where active")) == 0, () -> "walsenders still active");
        assertEquals(RECEIVERS, Integer.parseInt(pg.psql("select count(*) from pg_replication_slots")));
    }
}
