package org.pageserver.tenant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.pageserver.protocol.Lsn;

@ExtendWith(TestKitJUnit5Extension.class)
class DurableWalTest {
    @JUnit5TestKit
    ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestSupport.config()).build();

    static final Duration LONG = Duration.ofHours(1);

    @Test
    void aWaiterIsAnsweredOnceTheDurableLsnPassesItsPosition() {
        ActorRef<DurableWal.Command> d = testKit.spawn(DurableWal.create());
        TestProbe<Lsn> probe = testKit.createTestProbe();
        d.tell(new DurableWal.Advanced(new Lsn(100)));
        d.tell(new DurableWal.WaitPast(new Lsn(100), LONG, probe.getRef()));
        d.tell(new DurableWal.Advanced(new Lsn(100)));
        d.tell(new DurableWal.Advanced(new Lsn(90)));
        probe.expectNoMessage(Duration.ofMillis(200));
        d.tell(new DurableWal.Advanced(new Lsn(150)));
        assertEquals(new Lsn(150), probe.receiveMessage());
    }

    @Test
    void aPositionAlreadyPassedIsAnsweredAtOnce() {
        ActorRef<DurableWal.Command> d = testKit.spawn(DurableWal.create());
        TestProbe<Lsn> probe = testKit.createTestProbe();
        d.tell(new DurableWal.Advanced(new Lsn(200)));
        d.tell(new DurableWal.WaitPast(new Lsn(100), LONG, probe.getRef()));
        assertEquals(new Lsn(200), probe.receiveMessage());
    }

    @Test
    void anIdleWaiterGetsThePositionUnchangedAfterItsMaxWait() {
        ActorRef<DurableWal.Command> d = testKit.spawn(DurableWal.create());
        TestProbe<Lsn> idle = testKit.createTestProbe();
        TestProbe<Lsn> patient = testKit.createTestProbe();
        d.tell(new DurableWal.Advanced(new Lsn(100)));
        d.tell(new DurableWal.WaitPast(new Lsn(100), Duration.ofMillis(100), idle.getRef()));
        d.tell(new DurableWal.WaitPast(new Lsn(100), LONG, patient.getRef()));
        assertEquals(new Lsn(100), idle.receiveMessage(Duration.ofSeconds(5)));
        // the other waiter at the same position is still parked
        d.tell(new DurableWal.Advanced(new Lsn(120)));
        assertEquals(new Lsn(120), patient.receiveMessage());
        idle.expectNoMessage(Duration.ofMillis(100));
    }
}
