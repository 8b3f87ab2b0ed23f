package org.pageserver.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.pageserver.protocol.Lsn;

/**
 * Requests parked until a watermark LSN reaches theirs, as PostgreSQL's WaitForWalToBecomeAvailable
 * waits for WAL: the bookkeeping alone (who waits for which LSN, since when), without timers or
 * messages, which stay with the actor that owns it. Not thread-safe: owned by one actor.
 *
 * @param <T> what a waiter carries (the request to serve once the LSN is reached)
 */
public final class LsnWaiters<T> {

    /** A parked request: its id, what it waits for, and when it was parked (System.nanoTime). */
    public record Waiter<T>(long id, Lsn lsn, T request, long parkedAt) {
    }

    private final TreeMap<Lsn, List<Waiter<T>>> byLsn = new TreeMap<>();
    private final Map<Long, Lsn> lsnOf = new HashMap<>();
    private long nextId;

    /** Parks {@code request} until the watermark reaches {@code lsn}; returns its id. */
    public long park(Lsn lsn, T request) {
        long id = nextId++;
        byLsn.computeIfAbsent(lsn, k -> new ArrayList<>()).add(new Waiter<>(id, lsn, request, System.nanoTime()));
        lsnOf.put(id, lsn);
        return id;
    }

    /** Removes and returns, in LSN order, every waiter whose LSN is at or below {@code watermark}. */
    public List<Waiter<T>> releaseUpTo(Lsn watermark) {
        Map<Lsn, List<Waiter<T>>> ready = byLsn.headMap(watermark, true);
        List<Waiter<T>> out = new ArrayList<>();
        for (List<Waiter<T>> ws : ready.values()) {
            for (Waiter<T> w : ws) {
                lsnOf.remove(w.id());
                out.add(w);
            }
        }
        ready.clear();
        return out;
    }

    /** Removes the waiter {@code id} and returns it; null when it was released already. */
    public Waiter<T> remove(long id) {
        Lsn lsn = lsnOf.remove(id);
        if (lsn == null) {
            return null;
        }
        List<Waiter<T>> ws = byLsn.get(lsn);
        Waiter<T> found = null;
        for (Waiter<T> w : ws) {
            if (w.id() == id) {
                found = w;
                break;
            }
        }
        ws.remove(found);
        if (ws.isEmpty()) {
            byLsn.remove(lsn);
        }
        return found;
    }

    public int size() {
        return lsnOf.size();
    }
}
