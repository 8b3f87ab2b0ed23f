package org.pageserver.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.pageserver.Settings;

class SpinThenParkExecutorTest {

    static final long SPIN = TimeUnit.MICROSECONDS.toNanos(100);

    @Test
    void everyTaskRunsWhetherTheThreadsAreBusySpinningOrParked() throws Exception {
        SpinThenParkExecutor ex = new SpinThenParkExecutor(2, SPIN, Thread::new);
        int perSubmitter = 20_000;
        CountDownLatch done = new CountDownLatch(4 * perSubmitter);
        List<Thread> submitters = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            int seed = s;
            Thread t = new Thread(() -> {
                Random r = new Random(seed);
                for (int i = 0; i < perSubmitter; i++) {
                    ex.execute(done::countDown);
                    // now and then a pause longer than the spin, so that the workers park and
                    // must be woken by the next submission
                    if (r.nextInt(1000) == 0) {
                        LockSupportSleep.millis(1 + r.nextInt(3));
                    }
                }
            });
            submitters.add(t);
            t.start();
        }
        for (Thread t : submitters) {
            t.join();
        }
        assertTrue(done.await(10, TimeUnit.SECONDS), "tasks left: " + done.getCount());
        ex.shutdown();
        assertTrue(ex.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void anIdleThreadParksAndUsesNoCpu() throws Exception {
        AtomicReference<Thread> worker = new AtomicReference<>();
        SpinThenParkExecutor ex = new SpinThenParkExecutor(1, SPIN, r -> {
            Thread t = new Thread(r);
            worker.set(t);
            return t;
        });
        CompletableFuture.runAsync(() -> { }, ex).get(5, TimeUnit.SECONDS);
        Thread.sleep(100);
        assertEquals(Thread.State.WAITING, worker.get().getState());
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long before = mx.getThreadCpuTime(worker.get().getId());
        Thread.sleep(500);
        long used = mx.getThreadCpuTime(worker.get().getId()) - before;
        assertTrue(used < TimeUnit.MILLISECONDS.toNanos(5), "an idle worker used " + used + " ns of CPU in 500 ms");
        // and it still wakes up for work
        CompletableFuture.runAsync(() -> { }, ex).get(5, TimeUnit.SECONDS);
        ex.shutdown();
        assertTrue(ex.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void aFailingTaskDoesNotStopTheThreadAndShutdownRunsWhatIsQueued() throws Exception {
        List<Throwable> uncaught = new ArrayList<>();
        SpinThenParkExecutor ex = new SpinThenParkExecutor(1, 0, r -> {
            Thread t = new Thread(r);
            t.setUncaughtExceptionHandler((th, e) -> {
                synchronized (uncaught) {
                    uncaught.add(e);
                }
            });
            return t;
        });
        ex.execute(() -> {
            throw new IllegalStateException("boom");
        });
        AtomicLong ran = new AtomicLong();
        CountDownLatch gate = new CountDownLatch(1);
        ex.execute(() -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        for (int i = 0; i < 100; i++) {
            ex.execute(ran::incrementAndGet);
        }
        ex.shutdown();
        assertThrows(RejectedExecutionException.class, () -> ex.execute(() -> { }));
        gate.countDown();
        assertTrue(ex.awaitTermination(5, TimeUnit.SECONDS));
        assertEquals(100, ran.get(), "tasks queued before shutdown still ran");
        synchronized (uncaught) {
            assertEquals(1, uncaught.size());
            assertEquals("boom", uncaught.get(0).getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new SpinThenParkExecutor(0, 0, Thread::new));
        assertThrows(IllegalArgumentException.class, () -> new SpinThenParkExecutor(1, -1, Thread::new));
    }

    @Test
    void theServingDispatcherOfApplicationConfRunsActorsOnIt() {
        ActorTestKit kit = ActorTestKit.create(ConfigFactory.load());
        try {
            TestProbe<String> probe = kit.createTestProbe();
            ActorRef<String> a = kit.spawn(Behaviors.<String>receiveMessage(m -> {
                probe.getRef().tell(Thread.currentThread().getName() + " " + Thread.currentThread().isDaemon());
                return Behaviors.same();
            }), "on-serving", DispatcherSelector.fromConfig(Settings.SERVING_DISPATCHER));
            a.tell("where");
            String where = probe.receiveMessage();
            assertTrue(where.contains(Settings.SERVING_DISPATCHER), where);
            // the read dispatcher is one too, with at least two threads
            java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
            java.util.concurrent.Executor reads = kit.system().dispatchers()
                .lookup(DispatcherSelector.fromConfig(Settings.READ_DISPATCHER));
            CountDownLatch both = new CountDownLatch(2);
            for (int i = 0; i < 2; i++) {
                reads.execute(() -> {
                    names.add(Thread.currentThread().getName());
                    both.countDown();
                    try {
                        both.await(5, TimeUnit.SECONDS); // holds this thread until the other task runs too
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            try {
                assertTrue(both.await(5, TimeUnit.SECONDS), "two reads ran at once");
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertEquals(2, names.size(), names.toString());
            assertTrue(names.iterator().next().contains(Settings.READ_DISPATCHER), names.toString());
        } finally {
            kit.shutdownTestKit();
        }
    }

    /** Thread.sleep without the checked exception, for lambdas. */
    static final class LockSupportSleep {
        static void millis(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
