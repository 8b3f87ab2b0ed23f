package org.pageserver.streams.pgwire;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.pekko.Done;

/**
 * The open, authenticated connections of one server: hands out the process id / secret key pair
 * sent in BackendKeyData, routes CancelRequests to the right connection (the postmaster's job
 * in PostgreSQL), and terminates all connections on shutdown; counts the connections refused
 * and the failed authentications (for the metrics). Thread-safe.
 */
final class ConnectionRegistry {

    /** What the registry can ask of a connection; implementations hop onto the stage's thread. */
    interface Control {
        void cancel();

        void terminate();
    }

    record Key(int processId, int secretKey) {
    }

    private record Entry(int secretKey, Control control) {
    }

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Map<Integer, Entry> connections = new ConcurrentHashMap<>();
    private final AtomicInteger nextPid = new AtomicInteger(1000 + RANDOM.nextInt(1 << 20));
    private final CompletableFuture<Done> allClosed = new CompletableFuture<>();
    private volatile boolean terminating;
    private final java.util.concurrent.atomic.LongAdder refused = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder authFailures = new java.util.concurrent.atomic.LongAdder();

    void refused() {
        refused.increment();
    }

    void authenticationFailed() {
        authFailures.increment();
    }

    long refusedCount() {
        return refused.sum();
    }

    long authFailureCount() {
        return authFailures.sum();
    }

    Key register(Control control) {
        int secret = RANDOM.nextInt();
        while (true) {
            int pid = nextPid.getAndIncrement() & Integer.MAX_VALUE;
            if (pid != 0 && connections.putIfAbsent(pid, new Entry(secret, control)) == null) {
                if (terminating) {
                    control.terminate();
                }
                return new Key(pid, secret);
            }
        }
    }

    void unregister(int processId) {
        connections.remove(processId);
        if (terminating && connections.isEmpty()) {
            allClosed.complete(Done.getInstance());
        }
    }

    /** processCancelRequest: cancels if the secret matches; says whether it did. */
    boolean cancel(int processId, int secretKey) {
        Entry e = connections.get(processId);
        if (e == null || !MessageDigest.isEqual(intBytes(e.secretKey), intBytes(secretKey))) {
            return false;
        }
        e.control.cancel();
        return true;
    }

    private static byte[] intBytes(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    /** Terminates every open connection; the stage completes once they have all closed. */
    CompletionStage<Done> terminateAll() {
        terminating = true;
        for (Entry e : new ArrayList<>(connections.values())) {
            e.control.terminate();
        }
        if (connections.isEmpty()) {
            allClosed.complete(Done.getInstance());
        }
        return allClosed;
    }

    int size() {
        return connections.size();
    }
}
