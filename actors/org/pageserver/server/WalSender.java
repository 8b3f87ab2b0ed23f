package org.pageserver.server;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.replication.ReplicationMessage;
import org.pageserver.protocol.wal.XLogPageHeader;
import org.pageserver.storage.TenantStore;
import org.pageserver.tenant.DurableWal;

/**
 * The copy-both stream of START_REPLICATION PHYSICAL, as PostgreSQL 15's walsender runs it
 * (WalSndLoop, XLogSendPhysical): XLogData messages carrying the WAL from the requested
 * position on, at most {@link #MAX_SEND_SIZE} bytes each and ending at a WAL page boundary
 * unless at the end of the WAL stored ({@link #pieceEnd}), as far as the WAL is there; then it
 * waits for more, no thread held, and sends a keepalive asking for a reply whenever
 * {@code keepaliveInterval} passes without new WAL. The standby's status updates and
 * hot-standby feedback are read and not acted on (the pageserver keeps all its WAL and has no
 * snapshots to hold back); any other message is a protocol violation. The client's CopyDone
 * ends the stream (the connection answers CopyDone and CommandComplete); a disconnect stops
 * it.
 */
final class WalSender {
    /** As walsender.c's MAX_SEND_SIZE: 16 WAL pages per XLogData message. */
    static final int MAX_SEND_SIZE = 16 * 8192;

    /** Where the WAL comes from: the tenant's stored WAL, or the WAL of a base backup. */
    interface WalSource {
        /** The end of the WAL available once it is past {@code position}, or after {@code maxWait} at the latest. */
        CompletionStage<Lsn> waitPast(Lsn position, Duration maxWait);

        /** The WAL in [from, to): all of it, {@code to} being at most what waitPast answered. */
        CompletionStage<byte[]> read(Lsn from, Lsn to);
    }

    private WalSender() {
    }

    /**
     * The tenant's stored WAL: the durable LSN from the tenant's {@link DurableWal} (where
     * waiters are parked), the bytes read from the store on the blocking dispatcher.
     */
    static WalSource stored(ActorSystem<?> system, ActorRef<DurableWal.Command> durableWal, TenantStore store,
                            Executor blocking) {
        return new WalSource() {
            @Override
            public CompletionStage<Lsn> waitPast(Lsn position, Duration maxWait) {
                return AskPattern.<DurableWal.Command, Lsn>ask(durableWal, r -> new DurableWal.WaitPast(position, maxWait, r),
                    maxWait.plusSeconds(30), system.scheduler());
            }

            @Override
            public CompletionStage<byte[]> read(Lsn from, Lsn to) {
                return CompletableFuture.supplyAsync(() -> {
                    int n = (int) (to.value() - from.value());
                    byte[] out = new byte[n];
                    int[] filled = {0};
                    store.readWal(from, to, (lsn, buf, off, len) -> {
                        if (lsn.value() != from.value() + filled[0]) {
                            throw new PgProtocolException(SqlState.INTERNAL_ERROR, "the stored WAL has a gap at "
                                + from.plus(filled[0]) + " (next piece at " + lsn + ")");
                        }
                        System.arraycopy(buf, off, out, filled[0], len);
                        filled[0] += len;
                    });
                    if (filled[0] != n) {
                        throw new PgProtocolException(SqlState.INTERNAL_ERROR, "the stored WAL ends at "
                            + from.plus(filled[0]) + ", before the durable position " + to);
                    }
                    return out;
                }, blocking);
            }
        };
    }

    /**
     * The WAL of a base backup (see {@link BaseBackups.BackupWal}): its segment's first page up to the
     * end of its shutdown checkpoint record, and nothing after it ever.
     */
    static WalSource backup(ActorSystem<?> system, BaseBackups.BackupWal b) {
        return new WalSource() {
            @Override
            public CompletionStage<Lsn> waitPast(Lsn position, Duration maxWait) {
                if (position.isBefore(b.walEnd())) {
                    return CompletableFuture.completedFuture(b.walEnd());
                }
                return Patterns.after(maxWait, system.classicSystem().scheduler(), system.executionContext(),
                    () -> CompletableFuture.completedFuture(b.walEnd()));
            }

            @Override
            public CompletionStage<byte[]> read(Lsn from, Lsn to) {
                int off = (int) (from.value() - b.segmentStart().value());
                return CompletableFuture.completedFuture(
                    java.util.Arrays.copyOfRange(b.firstPage(), off, off + (int) (to.value() - from.value())));
            }
        };
    }

    static Flow<ByteString, ByteString, NotUsed> flow(WalSource wal, Lsn start, Duration keepaliveInterval) {
        Source<ByteString, NotUsed> sent = Source.unfoldAsync(start, sentPtr -> wal.waitPast(sentPtr, keepaliveInterval)
            .thenCompose(end -> {
                if (!end.isAfter(sentPtr)) {
                    byte[] k = new ReplicationMessage.PrimaryKeepalive(sentPtr, ReplicationMessage.now(), true).toBytes();
                    return CompletableFuture.completedFuture(Optional.of(Pair.create(sentPtr, ByteString.fromArrayUnsafe(k))));
                }
                Lsn upTo = pieceEnd(sentPtr, end);
                return wal.read(sentPtr, upTo).thenApply(bytes -> {
                    byte[] w = ReplicationMessage.XLogData.toBytes(sentPtr, end, ReplicationMessage.now(), bytes, 0,
                        bytes.length);
                    return Optional.of(Pair.create(upTo, ByteString.fromArrayUnsafe(w)));
                });
            }));
        // the standby's messages are checked and dropped; its CopyDone (the end of them) ends
        // the merge, a bad one fails it, and a disconnect cancels both sides
        return Flow.of(ByteString.class)
            .mapConcat(m -> {
                standbyMessage(m);
                return List.<ByteString>of();
            })
            .merge(sent, true);
    }

    /**
     * Where the XLogData message starting at {@code sentPtr} ends, {@code end} being how far the
     * WAL is stored (a record boundary): there when it is within {@link #MAX_SEND_SIZE}, else
     * {@code sentPtr + MAX_SEND_SIZE} rounded down to a WAL page boundary, as XLogSendPhysical
     * cuts. That rounding is not cosmetic: a standby's walreceiver may flush where any message
     * ends, and PostgreSQL 15's xlogreader (XLogDecodeNextRecord) copies the first page's part
     * of a record that crosses into the next page from the page as read when only the record's
     * header was needed, without reading that page again; a message ending in the middle of both
     * a page and a record leaves it copying the bytes of that page not received yet (stale ones
     * of a recycled segment, or zeros), and the record fails with "incorrect resource manager
     * data checksum". A message therefore ends only at a page boundary or at a record boundary.
     */
    static Lsn pieceEnd(Lsn sentPtr, Lsn end) {
        Lsn max = sentPtr.plus(MAX_SEND_SIZE);
        if (!end.isAfter(max)) {
            return end;
        }
        return new Lsn(max.value() - max.value() % XLogPageHeader.XLOG_BLCKSZ);
    }

    /** A message from the standby, checked and dropped; a malformed one ends the connection as PostgreSQL does. */
    static ReplicationMessage standbyMessage(ByteString payload) {
        try {
            return ReplicationMessage.parseFromStandby(payload.toArrayUnsafe());
        } catch (IllegalArgumentException e) {
            throw new PgProtocolException(SqlState.PROTOCOL_VIOLATION, e.getMessage());
        }
    }
}
