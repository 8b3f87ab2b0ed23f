package org.pageserver.server;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamConverters;
import org.apache.pekko.util.ByteString;
import org.pageserver.Errors;
import org.pageserver.Settings;
import org.pageserver.backup.BaseBackup;
import org.pageserver.backup.BaseBackupException;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.wal.TimeLineHistory;
import org.pageserver.storage.TenantStore;
import org.pageserver.tenant.TenantSupervisor;
import org.pageserver.tenant.Tenants;

/**
 * Base backups for the pgwire commands ({@code basebackup}, {@code controlfile}) and the
 * replication protocol's BASE_BACKUP: finds the tenant's store, runs the engine
 * ({@link BaseBackup}, plain Java, blocking) on the blocking dispatcher, and turns the tar it
 * writes into a stream of bytes a connection sends with backpressure: the engine's writes block
 * while the client is slow, so a backup of any size holds a few chunks in memory.
 *
 * <p>Every request is checked before any byte is produced ({@link BaseBackup#prepare}: unknown
 * tenant, bad LSN, LSN outside what the tenant holds); a failure while streaming (a page that
 * cannot be rebuilt, the store failing) ends the copy with an ErrorResponse carrying the
 * engine's SQLSTATE, before pg_control, so the partial tar never starts a server.
 *
 * <p>Backups running are listed with their progress ({@link #running}), for {@code status}.
 */
final class BaseBackups {
    static final Duration LOOKUP_TIMEOUT = Duration.ofSeconds(10);
    /**
     * How long a write of the engine may wait for the client to take the previous bytes: a
     * client that reads nothing for this long is taken for gone and the backup stops.
     */
    static final Duration CLIENT_STALL_TIMEOUT = Duration.ofMinutes(10);

    private final ActorSystem<?> system;
    private final ActorRef<Tenants.Command> tenants;
    private final Executor blocking;
    /** Backups being streamed, per tenant. */
    private final Map<SystemId, Set<BaseBackup>> running = new ConcurrentHashMap<>();
    /** The WAL of the last BASE_BACKUP of each replication connection still open. */
    private final Map<Object, BackupWal> backupWal = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong backupWalSeq = new java.util.concurrent.atomic.AtomicLong();

    BaseBackups(ActorSystem<?> system, ActorRef<Tenants.Command> tenants) {
        this.system = system;
        this.tenants = tenants;
        this.blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
    }

    /**
     * Checks the request and computes pg_control (blocking work, on the blocking dispatcher).
     * Fails with a {@link BaseBackupException} carrying the SQLSTATE.
     *
     * @param lsn null for the latest the tenant stores
     */
    CompletionStage<BaseBackup> prepare(SystemId id, Lsn lsn, boolean minimal) {
        // no size estimate: it lists every relation, which a clone's mount does on its own
        // connection at the same time (the estimate is for BASE_BACKUP's progress reports)
        return store(id).thenApplyAsync(store -> BaseBackup.prepare(store, lsn, minimal), blocking);
    }

    /** A standby backup (BaseBackup#prepareStandby), checked as {@link #prepare}. */
    CompletionStage<BaseBackup> prepareStandby(SystemId id, Lsn lsn) {
        return store(id).thenApplyAsync(store -> BaseBackup.prepareStandby(store, lsn), blocking);
    }

    /** A checked backup and about how many bytes its tar will have (for progress reports). */
    record Prepared(BaseBackup backup, long estimatedBytes) {
    }

    /**
     * {@link #prepare}, and the tar's size estimated from the relation sizes at the LSN: every
     * block of every fork (none for a minimal backup), the SLRU pages, one WAL segment and a
     * megabyte for the small files and tar headers.
     */
    CompletionStage<Prepared> prepareWithSize(SystemId id, Lsn lsn, boolean minimal) {
        return store(id).thenApplyAsync(store -> {
            BaseBackup backup = BaseBackup.prepare(store, lsn, minimal);
            long bytes = (1L << 20) + store.meta().map(m -> (long) m.walSegSize()).orElse(0L);
            for (Map.Entry<org.pageserver.protocol.RelTag, Integer> e : store.relations(backup.lsn()).entrySet()) {
                if (!minimal || e.getKey().spcNode() == 0) {
                    bytes += Integer.toUnsignedLong(e.getValue()) * org.pageserver.protocol.RelFileName.BLCKSZ;
                }
            }
            return new Prepared(backup, bytes);
        }, blocking);
    }

    /** The tenant's store; an unknown tenant fails with 42704. */
    private CompletionStage<TenantStore> store(SystemId id) {
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                r -> new Tenants.GetTenant(id, r), LOOKUP_TIMEOUT, system.scheduler())
            .thenCompose(t -> {
                if (t.isEmpty()) {
                    throw BaseBackupException.unknownTenant(id.toString());
                }
                return AskPattern.<TenantSupervisor.Command, TenantStore>ask(t.get(), TenantSupervisor.GetStore::new,
                    LOOKUP_TIMEOUT, system.scheduler());
            });
    }

    /**
     * The backup's tar as a stream: materializing it starts the engine on the blocking
     * dispatcher. Each element is at most what the engine wrote at once (64 kB). A failure of
     * the engine fails the stream with a {@link PgProtocolException} of its SQLSTATE, after the
     * bytes it wrote before.
     */
    Source<ByteString, NotUsed> tar(SystemId id, BaseBackup backup) {
        CompletableFuture<Void> written = new CompletableFuture<>();
        Source<ByteString, NotUsed> bytes = StreamConverters.asOutputStream(CLIENT_STALL_TIMEOUT)
            .mapMaterializedValue(out -> {
                blocking.execute(() -> write(id, backup, out, written));
                return NotUsed.getInstance();
            });
        // after the last byte: the engine's outcome, an error if it failed (the OutputStream
        // can only complete the stream, not fail it)
        return bytes.concat(Source.completionStageSource(written.handle((ok, e) -> e == null
            ? Source.<ByteString>empty() : Source.<ByteString>failed(asProtocolError(e)))));
    }

    private void write(SystemId id, BaseBackup backup, OutputStream out, CompletableFuture<Void> written) {
        Set<BaseBackup> mine = running.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet());
        mine.add(backup);
        try {
            backup.writeTo(out);
            written.complete(null);
        } catch (IOException | RuntimeException e) {
            written.completeExceptionally(e);
        } finally {
            mine.remove(backup);
            try {
                out.close();
            } catch (IOException closed) {
                // the client is gone: nothing to tell it
            }
        }
    }

    /**
     * The WAL of a base backup sent by BASE_BACKUP: its segment (the one after L's) holds only
     * its shutdown checkpoint record, on the backup's own timeline (the tenant's plus one,
     * {@code history} its history file), which the tar holds too. {@code requested} is the
     * {@code lsn} option of the connection that asked for the backup (null: the latest);
     * {@code seq} orders the backups.
     */
    record BackupWal(SystemId systemId, Lsn requested, int timeline, TimeLineHistory history, Lsn segmentStart,
                     Lsn walEnd, byte[] firstPage, long seq) {
        boolean holds(Lsn position) {
            return !position.isBefore(segmentStart) && !position.isAfter(walEnd);
        }
    }

    /** The backup's WAL, offered to START_REPLICATION while {@code connection} stays open (replacing its previous one). */
    void offerWal(Object connection, SystemId id, Lsn requested, BaseBackup backup) {
        backupWal.put(connection, new BackupWal(id, requested, backup.controlFile().checkPointCopy().thisTimeLineId(),
            backup.timeLineHistory(), backup.walSegmentStart(), backup.walEnd(), backup.walFirstPage(),
            backupWalSeq.incrementAndGet()));
    }

    /** The connection is gone: its backup's WAL with it. */
    void withdrawWal(Object connection) {
        backupWal.remove(connection);
    }

    /**
     * The WAL of the newest backup of the tenant, asked for with the same {@code lsn} option,
     * on the same timeline, whose segment holds {@code position} up to its end: what
     * pg_basebackup -X stream's second connection asks for while the backup runs.
     */
    Optional<BackupWal> walOf(SystemId id, Lsn requested, long timeline, Lsn position) {
        return newest(id, requested, w -> Integer.toUnsignedLong(w.timeline()) == timeline && w.holds(position));
    }

    /**
     * The newest backup of the tenant being sent to a connection with the same {@code lsn}
     * option: whose timeline pg_basebackup -X stream's second connection follows.
     */
    Optional<BackupWal> offered(SystemId id, Lsn requested) {
        return newest(id, requested, w -> true);
    }

    private Optional<BackupWal> newest(SystemId id, Lsn requested, java.util.function.Predicate<BackupWal> matching) {
        BackupWal found = null;
        for (BackupWal w : backupWal.values()) {
            if (w.systemId().equals(id) && java.util.Objects.equals(w.requested(), requested) && matching.test(w)
                && (found == null || w.seq() > found.seq())) {
                found = w;
            }
        }
        return Optional.ofNullable(found);
    }

    /** The SQLSTATE a failure is reported with: the engine's own, else XX000. */
    static PgProtocolException asProtocolError(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof BaseBackupException b) {
            return new PgProtocolException(b.sqlState(), b.getMessage());
        }
        if (cause instanceof IOException io) {
            return new PgProtocolException(SqlState.CONNECTION_FAILURE, "base backup stopped: " + io.getMessage());
        }
        return new PgProtocolException(SqlState.INTERNAL_ERROR, "base backup failed: " + Errors.rootMessage(cause));
    }

    /**
     * The backups of a tenant being streamed now, as {@code status} shows them: one entry
     * "LSN[ minimal| standby]: N MB" each, or the empty string.
     */
    String running(SystemId id) {
        Set<BaseBackup> mine = running.get(id);
        if (mine == null || mine.isEmpty()) {
            return "";
        }
        List<String> out = new ArrayList<>();
        for (BaseBackup b : mine) {
            out.add(b.lsn() + (b.standby() ? " standby" : b.minimal() ? " minimal" : "") + ": " + (b.bytesWritten() >> 20) + " MB");
        }
        return String.join(", ", out);
    }
}
