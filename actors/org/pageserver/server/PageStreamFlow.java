package org.pageserver.server;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;
import org.pageserver.Errors;
import org.pageserver.metrics.GetPageResult;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.pageserver.tenant.PageCache;

/**
 * The {@code pagestream} sub-protocol of one connection: each CopyData payload in is one
 * request, each payload out its response, in request order. Up to {@code pipelineDepth}
 * requests of one connection are in flight at once; beyond that the connection stops being
 * read (TCP backpressure), so a client that stops reading costs nothing but its own window.
 * A malformed request is answered with an error response and ends the stream.
 */
public final class PageStreamFlow {
    private PageStreamFlow() {
    }

    /**
     * Runs a continuation on the thread completing the ask (the page cache's). Needed: the
     * CompletionStage of an ask is Scala's converter, whose plain {@code thenApply} runs
     * asynchronously on the common pool, and on a 2-core machine that pool is a new thread per
     * task (CompletableFuture.ThreadPerTaskExecutor): a thread started for every page served.
     */
    private static final java.util.concurrent.Executor DIRECT = Runnable::run;

    private record Answer(ByteString bytes, boolean last) {
    }

    public static Flow<ByteString, ByteString, NotUsed> create(ActorSystem<?> system,
                                                                ActorRef<PageCache.Command> tenant,
                                                                SystemId systemId, Duration timeout,
                                                                int pipelineDepth, TenantMetrics metrics) {
        Flow<ByteString, ByteString, NotUsed> flow = Flow.of(ByteString.class)
            .mapAsync(pipelineDepth, frame -> answer(system, tenant, systemId, timeout, frame, metrics))
            .takeWhile(a -> !a.last(), true)
            .map(Answer::bytes);
        if (!metrics.readsEnabled()) {
            return flow;
        }
        // a stage every response crosses: off with the rest of the page path's metrics
        return flow.watchTermination((mat, done) -> {
            metrics.pagestreamOpened();
            done.whenCompleteAsync((d, e) -> metrics.pagestreamClosed(), DIRECT);
            return mat;
        });
    }

    private static CompletionStage<Answer> answer(ActorSystem<?> system, ActorRef<PageCache.Command> tenant,
                                                  SystemId id, Duration timeout, ByteString frame,
                                                  TenantMetrics metrics) {
        PageStreamRequest req;
        try {
            req = PageStreamRequest.parse(frame.toArray());
        } catch (PageStreamRequest.MalformedRequest e) {
            return CompletableFuture.completedFuture(
                new Answer(ByteString.fromArrayUnsafe(new PageStreamResponse.Error(e.getMessage()).write()), true));
        }
        // timed in the stage that answers anyway: the metrics add no stage of their own
        boolean timed = metrics.readsEnabled() && req instanceof PageStreamRequest.GetPage;
        long t0 = timed ? System.nanoTime() : 0;
        return ask(system, tenant, id, timeout, req)
            .handleAsync((r, e) -> {
                if (timed) {
                    metrics.getPage(e != null ? GetPageResult.TIMEOUT : r instanceof PageStreamResponse.Error err
                        ? GetPageResult.ofError(err.message()) : GetPageResult.OK, System.nanoTime() - t0);
                }
                return new Answer(e != null
                    ? ByteString.fromArrayUnsafe(new PageStreamResponse.Error("request failed: " + Errors.rootMessage(e)).write())
                    : encode(r), false);
            }, DIRECT);
    }

    private static final ByteString GETPAGE_TAG = ByteString.fromArrayUnsafe(new byte[] {PageStreamResponse.TAG_GETPAGE});

    /**
     * The response's bytes as PageStreamResponse.write lays them out; a page is not copied: the
     * tag and the page array (never written to once the page cache has it) are chained.
     */
    static ByteString encode(PageStreamResponse r) {
        if (r instanceof PageStreamResponse.Page p) {
            return GETPAGE_TAG.concat(ByteString.fromArrayUnsafe(p.page()));
        }
        return ByteString.fromArrayUnsafe(r.write());
    }

    static CompletionStage<PageStreamResponse> ask(ActorSystem<?> system, ActorRef<PageCache.Command> tenant,
                                                   SystemId id, Duration timeout, PageStreamRequest req) {
        if (req instanceof PageStreamRequest.GetPage g) {
            return AskPattern.<PageCache.Command, PageCache.PageReply>ask(tenant,
                    r -> new PageCache.GetPage(g.rel(), g.blkno(), g.lsn(), g.latest(), r), timeout,
                    system.scheduler())
                .thenApplyAsync(r -> r instanceof PageCache.Page p ? new PageStreamResponse.Page(p.image())
                    : new PageStreamResponse.Error(((PageCache.ReadFailed) r).message()), DIRECT);
        }
        if (req instanceof PageStreamRequest.DbSize d) {
            return AskPattern.<PageCache.Command, PageCache.DbSizeReply>ask(tenant,
                    r -> new PageCache.GetDbSize(d.dbNode(), d.lsn(), d.latest(), r), timeout,
                    system.scheduler())
                .thenApplyAsync(r -> r instanceof PageCache.DbSize s ? new PageStreamResponse.DbSize(s.bytes())
                    : new PageStreamResponse.Error(((PageCache.ReadFailed) r).message()), DIRECT);
        }
        boolean exists = req instanceof PageStreamRequest.Exists;
        var rel = exists ? ((PageStreamRequest.Exists) req).rel() : ((PageStreamRequest.Nblocks) req).rel();
        return AskPattern.<PageCache.Command, PageCache.RelSizeReply>ask(tenant,
                r -> new PageCache.GetRelSize(rel, req.lsn(), req.latest(), r), timeout, system.scheduler())
            .thenApplyAsync(r -> {
                if (r instanceof PageCache.RelSize s) {
                    if (exists) {
                        return new PageStreamResponse.Exists(s.exists());
                    }
                    return s.exists() ? new PageStreamResponse.Nblocks(s.nblocks())
                        : new PageStreamResponse.Error("relation " + rel + " does not exist at " + s.lsn());
                }
                return new PageStreamResponse.Error(((PageCache.ReadFailed) r).message());
            }, DIRECT);
    }

}
