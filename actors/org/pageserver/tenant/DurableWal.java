package org.pageserver.tenant;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.pageserver.protocol.Lsn;

/**
 * How far a tenant's raw WAL is stored (its durable LSN: the WAL-stream actor tells it after
 * every batch written), and the walsenders waiting for it to move, as PostgreSQL's walsenders
 * sleep until XLogFlush wakes them (WalSndWakeup). A waiter is parked here, no thread held,
 * and answered once the durable LSN passes its position, or after its {@code maxWait} with the
 * position unchanged, so that an idle walsender gets to send its keepalive.
 *
 * <p>It is a sibling of the WAL-stream actor, not its child: it keeps its waiters while the
 * stream reconnects.
 */
public final class DurableWal {

    public sealed interface Command permits Advanced, WaitPast, TimedOut {
    }

    /** The raw WAL is stored up to {@code durable} (never moves back; an older value is ignored). */
    public record Advanced(Lsn durable) implements Command {
    }

    /** Answer {@code replyTo} with the durable LSN once it is past {@code position}, or after {@code maxWait}. */
    public record WaitPast(Lsn position, Duration maxWait, ActorRef<Lsn> replyTo) implements Command {
    }

    private record TimedOut(long id) implements Command {
    }

    private record Waiter(long id, ActorRef<Lsn> replyTo) {
    }

    public static Behavior<Command> create() {
        return Behaviors.withTimers(timers -> new DurableWal(timers).behavior());
    }

    private final TimerScheduler<Command> timers;
    /** Waiters by the position they wait to see passed. */
    private final TreeMap<Lsn, List<Waiter>> waiting = new TreeMap<>();
    private final Map<Long, Lsn> positions = new java.util.HashMap<>();
    private Lsn durable = Lsn.INVALID;
    private long nextId;

    private DurableWal(TimerScheduler<Command> timers) {
        this.timers = timers;
    }

    private Behavior<Command> behavior() {
        return Behaviors.receive(Command.class)
            .onMessage(Advanced.class, this::onAdvanced)
            .onMessage(WaitPast.class, this::onWait)
            .onMessage(TimedOut.class, this::onTimeout)
            .build();
    }

    private Behavior<Command> onAdvanced(Advanced m) {
        if (!m.durable().isAfter(durable)) {
            return Behaviors.same();
        }
        durable = m.durable();
        Map<Lsn, List<Waiter>> passed = waiting.headMap(durable, false);
        for (List<Waiter> ws : passed.values()) {
            for (Waiter w : ws) {
                timers.cancel(w.id());
                positions.remove(w.id());
                w.replyTo().tell(durable);
            }
        }
        passed.clear();
        return Behaviors.same();
    }

    private Behavior<Command> onWait(WaitPast m) {
        if (durable.isAfter(m.position())) {
            m.replyTo().tell(durable);
            return Behaviors.same();
        }
        long id = nextId++;
        waiting.computeIfAbsent(m.position(), k -> new ArrayList<>()).add(new Waiter(id, m.replyTo()));
        positions.put(id, m.position());
        timers.startSingleTimer(id, new TimedOut(id), m.maxWait());
        return Behaviors.same();
    }

    private Behavior<Command> onTimeout(TimedOut m) {
        Lsn position = positions.remove(m.id());
        if (position == null) {
            return Behaviors.same();
        }
        List<Waiter> ws = waiting.get(position);
        for (int i = 0; i < ws.size(); i++) {
            if (ws.get(i).id() == m.id()) {
                ws.remove(i).replyTo().tell(durable);
                break;
            }
        }
        if (ws.isEmpty()) {
            waiting.remove(position);
        }
        return Behaviors.same();
    }
}
