package org.pageserver.tenant;

import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.PoolRouter;
import org.apache.pekko.actor.typed.javadsl.Routers;
import org.pageserver.Settings;
import org.pageserver.engine.PageRebuild;
import org.pageserver.engine.SharedPageCache;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.storage.Compaction;
import org.pageserver.storage.CompactionPool;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;

/**
 * The root of one tenant (one PostgreSQL system_id): owns its page cache, its WAL-stream actor
 * and its redo pool, and restarts a failed child with backoff; a tenant's failure never
 * reaches another tenant.
 *
 * <p>Its commands carry the system_id and plain values only, so the supervisor can later become
 * a Cluster Sharding entity keyed by system_id without changing its protocol.
 */
public final class TenantSupervisor {

    public sealed interface Command permits GetPage, GetRelSize, GetDbSize, GetStatus, GetPageCache, GetIdentity,
        GetStore, GetDurableWal,
        WalStatusReceived {
    }

    /**
     * The tenant's store, for readers that run on their own blocking thread (base backups and
     * pg_control: org.pageserver.backup). It is closed when the tenant stops; a read then fails
     * with a StorageException.
     */
    public record GetStore(ActorRef<TenantStore> replyTo) implements Command {
    }

    /**
     * The page cache actor answering this tenant's reads. A pagestream asks once and then sends
     * every request there directly: one hop less per page. The reference stays valid across the
     * page cache's restarts; it dies with the tenant, and requests then time out.
     */
    public record GetPageCache(ActorRef<ActorRef<PageCache.Command>> replyTo) implements Command {
    }

    /** The actor that knows how far the raw WAL is stored, for walsenders waiting for more (START_REPLICATION). */
    public record GetDurableWal(ActorRef<ActorRef<DurableWal.Command>> replyTo) implements Command {
    }

    public record GetPage(SystemId systemId, org.pageserver.protocol.RelTag rel, int blkno, Lsn lsn, boolean latest,
                          ActorRef<PageCache.PageReply> replyTo) implements Command {
    }

    public record GetRelSize(SystemId systemId, org.pageserver.protocol.RelTag rel, Lsn lsn, boolean latest,
                             ActorRef<PageCache.RelSizeReply> replyTo) implements Command {
    }

    public record GetDbSize(SystemId systemId, int dbNode, Lsn lsn, boolean latest,
                            ActorRef<PageCache.DbSizeReply> replyTo) implements Command {
    }

    public record GetStatus(SystemId systemId, ActorRef<TenantStatus> replyTo) implements Command {
    }

    /** What a replication connection's IDENTIFY_SYSTEM and SHOW answer from. */
    public record GetIdentity(ActorRef<Identity> replyTo) implements Command {
    }

    /** The primary's identity as the tenant follows it: its timeline and wal_segment_size. */
    public record Identity(SystemId systemId, int timeline, int walSegSize) {
    }

    /** One row of the {@code status} command. */
    public record TenantStatus(SystemId systemId, String state, Lsn lastValidLsn, Lsn lastRecordLsn, Lsn durableLsn,
                               Lsn consistentLsn, String primary, String error, Lsn horizonLsn) {
    }

    private record WalStatusReceived(WalStream.WalStatus status, ActorRef<TenantStatus> replyTo, Throwable failure)
        implements Command {
    }

    /** @param pageCache the process-wide page cache, shared with every other tenant */
    public static Behavior<Command> create(TenantStore store, TenantMeta meta, Settings settings,
                                           WalStream.WalSourceFactory sources, TenantMetrics metrics,
                                           SharedPageCache pageCache) {
        return Behaviors.setup(ctx -> {
            PoolRouter<RedoWorker.Command> pool = Routers.pool(settings.redoWorkers(),
                Behaviors.supervise(RedoWorker.create(metrics)).onFailure(SupervisorStrategy.restart()));
            ActorRef<RedoWorker.Command> redo = ctx.spawn(pool, "redo");
            ActorRef<PageCache.Command> cache = ctx.spawn(
                Behaviors.supervise(PageCache.create(store, meta.consistentLsn(), meta.hintsLogged(), settings, redo, metrics,
                        pageCache, meta.systemId()))
                    .onFailure(SupervisorStrategy.restart()), "page-cache",
                DispatcherSelector.fromConfig(Settings.SERVING_DISPATCHER));
            ActorRef<DurableWal.Command> durableWal = ctx.spawn(DurableWal.create(), "durable-wal");
            ActorRef<WalStream.Command> walStream = ctx.spawn(
                Behaviors.supervise(WalStream.create(store, settings, sources, cache, durableWal, metrics))
                    .onFailure(SupervisorStrategy.restartWithBackoff(settings.reconnectMinBackoff(),
                        settings.reconnectMaxBackoff(), 0.2).withResetBackoffAfter(Duration.ofMinutes(1))),
                "wal-stream");
            // the store makes images of long chains and applies the retention window in the background
            CompactionPool.Registration compaction = CompactionPool.shared().register(new Compaction(store,
                (h, tag) -> PageRebuild.rebuild(h, tag, meta.hintsLogged()), settings.compaction()),
                settings.compactionInterval());
            return running(ctx, store, meta, cache, durableWal, walStream, compaction);
        });
    }

    private static Behavior<Command> running(ActorContext<Command> ctx, TenantStore store, TenantMeta meta,
                                             ActorRef<PageCache.Command> pageCache,
                                             ActorRef<DurableWal.Command> durableWal,
                                             ActorRef<WalStream.Command> walStream,
                                             CompactionPool.Registration compaction) {
        String primary = redact(meta.conninfo());
        return Behaviors.receive(Command.class)
            .onMessage(GetPage.class, m -> {
                pageCache.tell(new PageCache.GetPage(m.rel(), m.blkno(), m.lsn(), m.latest(), m.replyTo()));
                return Behaviors.same();
            })
            .onMessage(GetRelSize.class, m -> {
                pageCache.tell(new PageCache.GetRelSize(m.rel(), m.lsn(), m.latest(), m.replyTo()));
                return Behaviors.same();
            })
            .onMessage(GetDbSize.class, m -> {
                pageCache.tell(new PageCache.GetDbSize(m.dbNode(), m.lsn(), m.latest(), m.replyTo()));
                return Behaviors.same();
            })
            .onMessage(GetStore.class, m -> {
                m.replyTo().tell(store);
                return Behaviors.same();
            })
            .onMessage(GetPageCache.class, m -> {
                m.replyTo().tell(pageCache);
                return Behaviors.same();
            })
            .onMessage(GetDurableWal.class, m -> {
                m.replyTo().tell(durableWal);
                return Behaviors.same();
            })
            .onMessage(GetIdentity.class, m -> {
                m.replyTo().tell(new Identity(meta.systemId(), meta.timeline(), meta.walSegSize()));
                return Behaviors.same();
            })
            .onMessage(GetStatus.class, m -> {
                ctx.ask(WalStream.WalStatus.class, walStream, Duration.ofSeconds(5), WalStream.GetStatus::new,
                    (s, e) -> new WalStatusReceived(s, m.replyTo(), e));
                return Behaviors.same();
            })
            .onMessage(WalStatusReceived.class, m -> {
                WalStream.WalStatus s = m.status();
                if (s == null) {
                    m.replyTo().tell(new TenantStatus(meta.systemId(), "reconnecting", Lsn.INVALID, Lsn.INVALID,
                        Lsn.INVALID, meta.consistentLsn(), primary, null, store.horizon()));
                } else {
                    m.replyTo().tell(new TenantStatus(meta.systemId(), s.state(), s.lastValidLsn(), s.lastRecordLsn(),
                        s.durableLsn(), meta.consistentLsn(), primary, s.error(), store.horizon()));
                }
                return Behaviors.same();
            })
            .onSignal(PostStop.class, sig -> {
                compaction.close();
                store.close();
                return Behaviors.same();
            })
            .build();
    }

    /** The conninfo as operators may see it: without its password. */
    static String redact(String conninfo) {
        try {
            return ConnInfo.parse(conninfo).withoutPassword().toConnString();
        } catch (RuntimeException e) {
            return "(unparsable conninfo)";
        }
    }
}
