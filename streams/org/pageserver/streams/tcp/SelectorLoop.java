package org.pageserver.streams.tcp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread blocked in {@code epoll_wait} for a set of channels; the only thread that touches
 * their selection keys. Other threads hand it work with {@link #execute}, which wakes it.
 *
 * <p>Why our own thread and not Pekko IO's: Pekko's TCP connection is an actor between the
 * selector and the stream, so a request and its response cross the selector, the connection
 * actor and the stream actor several times (Received, ResumeReading, Write, WriteAck). Here the
 * selector thread reads and hands the bytes straight to the connection's stage, and the stage
 * writes to the socket itself: one thread switch per request instead of six to eight.
 */
final class SelectorLoop implements Runnable, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SelectorLoop.class);

    /** What a registered channel does when its key is ready; runs on the selector thread. */
    interface Handler {
        void ready(SelectionKey key);

        /** The loop is closing: release the channel. */
        void loopClosed();
    }

    private final Selector selector;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    /** A yield longer than this ran another thread: see SpinThenParkExecutor, same rule. */
    private static final long CONTENDED_YIELD_NANOS = 10_000;

    private final ByteBuffer readBuffer;
    private final long idleSpinNanos;
    private volatile boolean closing;

    /**
     * @param idleSpinNanos how long after its last event the loop keeps polling (selectNow,
     *                      yielding the CPU between polls) before it sleeps in select; 0: never
     */
    SelectorLoop(String name, int readBufferBytes, long idleSpinNanos) {
        this.idleSpinNanos = idleSpinNanos;
        readBuffer = ByteBuffer.allocateDirect(readBufferBytes);
        try {
            selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a selector", e);
        }
        thread = new Thread(this, name);
        thread.setDaemon(true);
        thread.start();
    }

    Selector selector() {
        return selector;
    }

    /** The buffer every read on this loop goes through; only for use on the selector thread. */
    ByteBuffer readBuffer() {
        return readBuffer;
    }

    boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code task} on the selector thread, soon. Tasks run in submission order. */
    void execute(Runnable task) {
        tasks.add(task);
        if (!inLoop()) {
            selector.wakeup();
        }
    }

    @Override
    public void run() {
        try {
            long lastActive = System.nanoTime();
            while (!closing) {
                boolean ranTasks = runTasks();
                int ready;
                if (idleSpinNanos > 0 && System.nanoTime() - lastActive < idleSpinNanos && spinPermit()) {
                    // recently busy: poll instead of sleeping in epoll_wait, so the next request
                    // of a connection is read without a thread wake-up
                    ready = selector.selectNow();
                    if (ready == 0 && !ranTasks && tasks.isEmpty()) {
                        long before = System.nanoTime();
                        Thread.yield();
                        if (System.nanoTime() - before > CONTENDED_YIELD_NANOS) {
                            // another thread wanted this core: the machine is busy, so sleep
                            // in select instead of taking CPU from it
                            lastActive = System.nanoTime() - idleSpinNanos;
                        }
                        continue;
                    }
                } else {
                    dropSpinPermit();
                    ready = selector.select();
                }
                if (ready > 0 || ranTasks) {
                    lastActive = System.nanoTime();
                }
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey key = it.next();
                    it.remove();
                    if (key.isValid()) {
                        try {
                            ((Handler) key.attachment()).ready(key);
                        } catch (java.nio.channels.CancelledKeyException e) {
                            // the channel was closed by its stage meanwhile: nothing to do
                        } catch (RuntimeException e) {
                            log.error("selector handler failed", e);
                            key.cancel();
                        }
                    }
                }
            }
        } catch (IOException | ClosedSelectorException e) {
            if (!closing) {
                log.error("selector loop {} failed", thread.getName(), e);
            }
        } finally {
            dropSpinPermit();
            runTasks();
            for (SelectionKey key : selector.keys()) {
                if (key.attachment() instanceof Handler h) {
                    h.loopClosed();
                }
            }
            try {
                selector.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }

    /** Whether this loop holds one of the process's {@link IdleSpinners} permits. */
    private boolean spinning;

    private boolean spinPermit() {
        if (!spinning) {
            spinning = IdleSpinners.tryStart();
        }
        return spinning;
    }

    private void dropSpinPermit() {
        if (spinning) {
            spinning = false;
            IdleSpinners.stop();
        }
    }

    private boolean runTasks() {
        boolean ran = false;
        Runnable t;
        while ((t = tasks.poll()) != null) {
            ran = true;
            try {
                t.run();
            } catch (RuntimeException e) {
                log.error("selector task failed", e);
            }
        }
        return ran;
    }

    @Override
    public void close() {
        closing = true;
        selector.wakeup();
    }
}
