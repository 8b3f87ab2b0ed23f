package org.pageserver.dispatch;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.pageserver.streams.tcp.IdleSpinners;

/**
 * A small pool whose idle threads keep looking for work for a short while ({@code idleSpinNanos},
 * yielding the CPU meanwhile, and giving up as soon as a yield shows that another thread wanted
 * the core) before they park, and park until work arrives (no timed wake-ups: an idle server
 * costs nothing).
 *
 * <p>Why: a page request crosses the connection's stream actor and the page cache actor, and on
 * a machine with few cores the thread that runs them has usually just gone idle when the next
 * request arrives. Waking a parked thread (a futex wake, then the scheduler) costs more than
 * serving a cached page; a thread that is still looking takes the work at once, and the
 * submitter makes no system call. PostgreSQL backends do not need this: one process serves a
 * connection from socket to socket.
 *
 * <p>Submitters wake a parked thread only when there is one; a thread parks only after it has
 * announced itself as parked and then found the queue still empty, so no task is left waiting.
 */
public final class SpinThenParkExecutor extends AbstractExecutorService {

    /**
     * A yield that took longer than this gave the core to another thread: the machine has
     * other work, so an idle thread stops looking and parks. (A yield with nothing else to run
     * returns in about a microsecond.)
     */
    static final long CONTENDED_YIELD_NANOS = 10_000;

    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Thread> parked = new ConcurrentLinkedQueue<>();
    private final long idleSpinNanos;
    private final Thread[] threads;
    private final CountDownLatch terminated;
    private final AtomicInteger running;
    private volatile boolean shutdown;

    public SpinThenParkExecutor(int threadCount, long idleSpinNanos, ThreadFactory threadFactory) {
        if (threadCount < 1) {
            throw new IllegalArgumentException("threadCount must be positive: " + threadCount);
        }
        if (idleSpinNanos < 0) {
            throw new IllegalArgumentException("idleSpinNanos must not be negative: " + idleSpinNanos);
        }
        this.idleSpinNanos = idleSpinNanos;
        this.threads = new Thread[threadCount];
        this.terminated = new CountDownLatch(threadCount);
        this.running = new AtomicInteger(threadCount);
        for (int i = 0; i < threadCount; i++) {
            threads[i] = threadFactory.newThread(this::work);
        }
        for (Thread t : threads) {
            t.start();
        }
    }

    @Override
    public void execute(Runnable task) {
        if (shutdown) {
            throw new RejectedExecutionException("executor is shut down");
        }
        queue.add(task);
        Thread idle = parked.poll();
        if (idle != null) {
            LockSupport.unpark(idle);
        }
    }

    private void work() {
        Thread self = Thread.currentThread();
        try {
            while (true) {
                Runnable task = queue.poll();
                if (task != null) {
                    run(self, task);
                    continue;
                }
                if (shutdown) {
                    return;
                }
                if (lookAWhile()) {
                    continue;
                }
                parked.add(self);
                if (!queue.isEmpty() || shutdown) {
                    parked.remove(self);
                    continue;
                }
                LockSupport.park(this);
                parked.remove(self);
            }
        } finally {
            if (running.decrementAndGet() == 0) {
                queue.clear();
            }
            terminated.countDown();
        }
    }

    /** True as soon as work shows up within the idle spin time. */
    private boolean lookAWhile() {
        if (idleSpinNanos == 0 || !IdleSpinners.tryStart()) {
            return false;
        }
        try {
            return lookAWhileSpinning();
        } finally {
            IdleSpinners.stop();
        }
    }

    private boolean lookAWhileSpinning() {
        long now = System.nanoTime();
        long deadline = now + idleSpinNanos;
        do {
            if (!queue.isEmpty()) {
                return true;
            }
            // lets a runnable thread (a client, the selector) have this core meanwhile; when one
            // did run, the machine is busy and looking on would only take CPU from it: park
            long before = now;
            Thread.yield();
            now = System.nanoTime();
            if (now - before > CONTENDED_YIELD_NANOS) {
                return !queue.isEmpty();
            }
        } while (now - deadline < 0 && !shutdown);
        return false;
    }

    private static void run(Thread self, Runnable task) {
        try {
            task.run();
        } catch (Throwable t) {
            Thread.UncaughtExceptionHandler h = self.getUncaughtExceptionHandler();
            if (h != null) {
                h.uncaughtException(self, t);
            }
            if (t instanceof Error e && !(t instanceof StackOverflowError)) {
                throw e;
            }
        }
    }

    @Override
    public void shutdown() {
        shutdown = true;
        for (Thread t : threads) {
            LockSupport.unpark(t);
        }
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        List<Runnable> left = new java.util.ArrayList<>();
        Runnable r;
        while ((r = queue.poll()) != null) {
            left.add(r);
        }
        return left;
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return terminated.getCount() == 0;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return terminated.await(timeout, unit);
    }
}
