package org.pageserver.tenant;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.pageserver.engine.PageRebuild;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.storage.PageHistory;

/**
 * One member of a tenant's redo pool: rebuilds a page from its history (an image and the
 * records after it) and answers the requester. Pure CPU work on the actor's own thread; no
 * state survives between requests, so the pool can route to any member.
 */
public final class RedoWorker {

    public sealed interface Command permits Reconstruct {
    }

    /** Rebuild {@code key} as of {@code lsn}; answer {@code replyTo}, and give the page to {@code cache}. */
    public record Reconstruct(org.pageserver.protocol.BufferTag key, Lsn lsn, PageHistory history, boolean hintsLogged,
                              ActorRef<PageCache.PageReply> replyTo, ActorRef<PageCache.Command> cache)
        implements Command {
    }

    public static Behavior<Command> create() {
        return create(TenantMetrics.detached(new org.pageserver.protocol.SystemId(0)));
    }

    public static Behavior<Command> create(TenantMetrics metrics) {
        return Behaviors.receive(Command.class)
            .onMessage(Reconstruct.class, m -> {
                long t0 = System.nanoTime();
                PageCache.PageReply reply = reconstruct(m);
                metrics.redone(m.history().records().size(), System.nanoTime() - t0);
                m.replyTo().tell(reply);
                if (reply instanceof PageCache.Page p) {
                    List<PageHistory.StoredRecord> recs = m.history().records();
                    Lsn last = recs.isEmpty() ? Lsn.INVALID : recs.get(recs.size() - 1).endLsn();
                    m.cache().tell(new PageCache.Reconstructed(m.key(), m.lsn(), p.image().clone(), recs.size(), last));
                }
                return Behaviors.same();
            })
            .build();
    }

    static PageCache.PageReply reconstruct(Reconstruct m) {
        try {
            return new PageCache.Page(PageRebuild.rebuild(m.history(), m.key(), m.hintsLogged()), m.lsn());
        } catch (RuntimeException e) {
            return new PageCache.ReadFailed("cannot reconstruct block " + Integer.toUnsignedString(m.key().blkno())
                + " of " + m.key().rel() + " at " + m.lsn() + ": " + e.getMessage());
        }
    }
}
