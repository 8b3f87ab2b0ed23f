package org.pageserver.server;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.pageserver.Errors;
import org.pageserver.Settings;
import org.pageserver.backup.BaseBackup;
import org.pageserver.backup.BaseBackupException;
import org.pageserver.metrics.Metrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.pgwire.StartupOptions;
import org.pageserver.streams.pgwire.Authenticator;
import org.pageserver.streams.pgwire.Column;
import org.pageserver.streams.pgwire.PgSession;
import org.pageserver.streams.pgwire.PgSessionHandler;
import org.pageserver.streams.pgwire.QueryResult;
import org.pageserver.streams.pgwire.SessionInfo;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.tenant.PageCache;
import org.pageserver.tenant.TenantSupervisor;
import org.pageserver.tenant.Tenants;

/**
 * The commands of the pgwire port, per connection: {@code status}, {@code callmemaybe},
 * {@code pagestream}, {@code basebackup}, {@code controlfile}. Authentication comes from {@code pageserver.auth}; authorization from
 * {@code pageserver.auth.tenants}: the system_ids each user may read ("*" for all). With trust
 * authentication every user may read every tenant.
 */
public final class Sessions implements PgSessionHandler {
    /** callmemaybe may import a whole base backup before it answers. */
    static final Duration CALLMEMAYBE_TIMEOUT = Duration.ofHours(6);
    static final Duration STATUS_TIMEOUT = Duration.ofSeconds(10);
    static final int PIPELINE_DEPTH = 32;
    /** A walsender with no new WAL to send asks the standby for a reply this often. */
    static final Duration WAL_SENDER_KEEPALIVE = Duration.ofSeconds(10);

    static final List<Column> STATUS_COLUMNS = List.of(Column.text("system_id"), Column.text("state"),
        Column.pgLsn("last_valid_lsn"), Column.pgLsn("last_record_lsn"), Column.pgLsn("durable_lsn"),
        Column.pgLsn("consistent_lsn"), Column.text("primary"), Column.text("basebackups"),
        Column.pgLsn("horizon_lsn"));

    private final ActorSystem<?> system;
    private final ActorRef<Tenants.Command> tenants;
    private final Settings settings;
    private final Authenticator authenticator;
    private final boolean trust;
    private final Map<String, Set<String>> grants;
    private final BaseBackups backups;
    private final Metrics metrics;

    public Sessions(ActorSystem<?> system, ActorRef<Tenants.Command> tenants, Settings settings, Metrics metrics) {
        this.metrics = metrics;
        this.system = system;
        this.tenants = tenants;
        this.settings = settings;
        this.backups = new BaseBackups(system, tenants);
        Config auth = system.settings().config().getConfig("pageserver.auth");
        this.authenticator = Authenticator.fromConfig(auth);
        this.trust = !auth.hasPath("method") || auth.getString("method").equals("trust");
        this.grants = new HashMap<>();
        if (auth.hasPath("tenants")) {
            for (String user : auth.getObject("tenants").keySet()) {
                grants.put(user, new HashSet<>(auth.getStringList("tenants." + quoteKey(user))));
            }
        }
    }

    private static String quoteKey(String k) {
        return "\"" + k.replace("\"", "\\\"") + "\"";
    }

    public Authenticator authenticator() {
        return authenticator;
    }

    public boolean mayRead(String user, SystemId id) {
        if (trust) {
            return true;
        }
        Set<String> g = grants.get(user);
        return g != null && (g.contains("*") || g.contains(id.toString()));
    }

    public boolean mayReadAll(String user) {
        if (trust) {
            return true;
        }
        Set<String> g = grants.get(user);
        return g != null && g.contains("*");
    }

    /**
     * A connection with the startup parameter {@code replication} gets a {@link ReplicationSession};
     * a bad value of it, or of the tenant options such a connection takes, refuses the
     * connection (FATAL 22023) as PostgreSQL refuses a bad startup packet.
     */
    @Override
    public PgSession open(SessionInfo info) {
        SessionPins pins = new SessionPins();
        PgSession commands = new PgSession() {
            @Override
            public CompletionStage<QueryResult> query(String sql) {
                return Sessions.this.query(info, sql, pins);
            }

            @Override
            public void close() {
                pins.close();
            }
        };
        StartupOptions.Replication mode = StartupOptions.replication(info.parameters().get("replication"));
        if (mode == StartupOptions.Replication.NONE) {
            return commands;
        }
        return new ReplicationSession(system, tenants, backups, STATUS_TIMEOUT, WAL_SENDER_KEEPALIVE,
            id -> mayRead(info.user(), id), info, mode, commands);
    }

    private CompletionStage<QueryResult> query(SessionInfo info, String sql, SessionPins pins) {
        ServerCommand cmd;
        try {
            cmd = ServerCommand.parse(sql);
        } catch (ServerCommand.SyntaxError e) {
            return done(new QueryResult.Error(SqlState.SYNTAX_ERROR, e.getMessage()));
        } catch (BaseBackupException e) {
            return done(new QueryResult.Error(e.sqlState(), e.getMessage()));
        }
        if (cmd instanceof ServerCommand.Set) {
            return done(new QueryResult.Command("SET"));
        }
        if (cmd instanceof ServerCommand.Status) {
            return status(info.user());
        }
        if (cmd instanceof ServerCommand.CallMeMaybe c) {
            if (!mayReadAll(info.user())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied: callmemaybe needs a user granted \"*\" in pageserver.auth.tenants"));
            }
            return callMeMaybe(c.conninfo());
        }
        if (cmd instanceof ServerCommand.Detach d) {
            if (!mayReadAll(info.user())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied: detach needs a user granted \"*\" in pageserver.auth.tenants"));
            }
            return detach(d);
        }
        if (cmd instanceof ServerCommand.Relations r) {
            if (!mayRead(info.user(), r.systemId())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied for tenant " + r.systemId() + " to user \"" + info.user() + "\""));
            }
            return relations(r);
        }
        if (cmd instanceof ServerCommand.Pin p) {
            if (!mayRead(info.user(), p.systemId())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied for tenant " + p.systemId() + " to user \"" + info.user() + "\""));
            }
            return withStore(p.systemId(), "pin", store -> pin(store, p, pins));
        }
        if (cmd instanceof ServerCommand.ControlFile c) {
            if (!mayRead(info.user(), c.systemId())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied for tenant " + c.systemId() + " to user \"" + info.user() + "\""));
            }
            return controlFile(c);
        }
        if (cmd instanceof ServerCommand.BaseBackup b) {
            if (!mayRead(info.user(), b.systemId())) {
                return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                    "permission denied for tenant " + b.systemId() + " to user \"" + info.user() + "\""));
            }
            return baseBackup(b);
        }
        ServerCommand.PageStream p = (ServerCommand.PageStream) cmd;
        if (!mayRead(info.user(), p.systemId())) {
            return done(new QueryResult.Error(SqlState.INSUFFICIENT_PRIVILEGE,
                "permission denied for tenant " + p.systemId() + " to user \"" + info.user() + "\""));
        }
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                r -> new Tenants.GetTenant(p.systemId(), r), STATUS_TIMEOUT, system.scheduler())
            .thenCompose(t -> t.isEmpty()
                ? CompletableFuture.<QueryResult>completedFuture(new QueryResult.Error(SqlState.UNDEFINED_OBJECT,
                    "unknown system_id " + p.systemId() + ": no such tenant (run callmemaybe first)"))
                : AskPattern.<TenantSupervisor.Command, ActorRef<PageCache.Command>>ask(t.get(),
                        TenantSupervisor.GetPageCache::new, STATUS_TIMEOUT, system.scheduler())
                    .thenApply(cache -> new QueryResult.CopyBoth(PageStreamFlow.create(system, cache,
                        p.systemId(), settings.waitLsnTimeout().plusSeconds(10), PIPELINE_DEPTH,
                        metrics.tenant(p.systemId())), null, PageStreamRequest.MAX_SIZE)));
    }

    static final List<Column> RELATIONS_COLUMNS = List.of(Column.int8("spcnode"), Column.int8("dbnode"),
        Column.int8("relnode"), Column.int4("forknum"), Column.int8("nblocks"));

    /**
     * Every relation fork as of the LSN with its size, read from the store on the blocking
     * dispatcher (one scan of the relation sizes); the SLRU pseudo-relations (spcnode 0) are
     * left out. The LSN is checked as GetPage@LSN checks it: not 0/0, not below the consistent
     * point, not beyond what was stored (a listing must not change after it is given).
     */
    private CompletionStage<QueryResult> relations(ServerCommand.Relations r) {
        return withStore(r.systemId(), "relations", store -> relationRows(store, r));
    }

    /**
     * {@code answer} applied to the tenant's store on the blocking dispatcher; an unknown
     * tenant is 42704, a failure of the lookup or of {@code answer} XX000 naming {@code what}.
     */
    private CompletionStage<QueryResult> withStore(org.pageserver.protocol.SystemId id, String what,
                                                   java.util.function.Function<TenantStore, QueryResult> answer) {
        java.util.concurrent.Executor blocking = system.dispatchers()
            .lookup(org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                m -> new Tenants.GetTenant(id, m), STATUS_TIMEOUT, system.scheduler())
            .thenCompose(t -> t.isEmpty()
                ? CompletableFuture.<QueryResult>completedFuture(new QueryResult.Error(SqlState.UNDEFINED_OBJECT,
                    "unknown system_id " + id + ": no such tenant (run callmemaybe first)"))
                : AskPattern.<TenantSupervisor.Command, TenantStore>ask(t.get(), TenantSupervisor.GetStore::new,
                        STATUS_TIMEOUT, system.scheduler())
                    .thenApplyAsync(answer, blocking))
            .exceptionally(e -> new QueryResult.Error(SqlState.INTERNAL_ERROR,
                what + " failed: " + Errors.rootMessage(e)));
    }

    /**
     * Pins the LSN for the connection's life once it is one a read may ask for (as the
     * relation listing checks it); the horizon moving past it meanwhile is the same error.
     */
    private static QueryResult pin(TenantStore store, ServerCommand.Pin p, SessionPins pins) {
        QueryResult.Error unreadable = unreadable(store, p.systemId(), p.lsn());
        if (unreadable != null) {
            return unreadable;
        }
        try {
            pins.add(store.pin(p.lsn()));
        } catch (org.pageserver.storage.BelowHorizonException e) {
            return new QueryResult.Error(SqlState.INVALID_PARAMETER_VALUE, e.getMessage());
        }
        return new QueryResult.Command("PIN");
    }

    private static QueryResult relationRows(TenantStore store, ServerCommand.Relations r) {
        Lsn at = r.lsn() == null ? store.durableLsn() : r.lsn();
        QueryResult.Error unreadable = unreadable(store, r.systemId(), at);
        if (unreadable != null) {
            return unreadable;
        }
        List<List<String>> rows = new ArrayList<>();
        for (Map.Entry<RelTag, Integer> e : store.relations(at).entrySet()) {
            RelTag rel = e.getKey();
            if (rel.spcNode() == 0) {
                continue;
            }
            rows.add(List.of(Integer.toUnsignedString(rel.spcNode()), Integer.toUnsignedString(rel.dbNode()),
                Integer.toUnsignedString(rel.relNode()), String.valueOf(rel.fork().number),
                Integer.toUnsignedString(e.getValue())));
        }
        return new QueryResult.Rows(RELATIONS_COLUMNS, rows);
    }

    /**
     * Why a read as of {@code at} cannot be served, as GetPage@LSN refuses it: 0/0, below the
     * consistent point, beyond what was stored, below the retention horizon; null when it can.
     */
    private static QueryResult.Error unreadable(TenantStore store, org.pageserver.protocol.SystemId id, Lsn at) {
        Optional<TenantMeta> meta = store.meta();
        if (meta.isEmpty()) {
            return new QueryResult.Error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
                "tenant " + id + " has no base backup imported yet");
        }
        Lsn durable = store.durableLsn();
        if (!at.isValid()) {
            return new QueryResult.Error(SqlState.INVALID_PARAMETER_VALUE, "LSN 0/0 is not a WAL position");
        }
        if (at.isBefore(meta.get().consistentLsn())) {
            return new QueryResult.Error(SqlState.INVALID_PARAMETER_VALUE, "LSN " + at
                + " is below the consistent point " + meta.get().consistentLsn() + " of tenant " + id);
        }
        if (at.isAfter(durable)) {
            return new QueryResult.Error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "LSN " + at
                + " is beyond the WAL the pageserver has stored for tenant " + id + " (up to " + durable + ")");
        }
        try {
            store.checkHorizon(at);
        } catch (org.pageserver.storage.BelowHorizonException e) {
            return new QueryResult.Error(SqlState.INVALID_PARAMETER_VALUE, e.getMessage());
        }
        return null;
    }

    static final List<Column> CONTROLFILE_COLUMNS = List.of(Column.text("field"), Column.text("value"));

    /**
     * pg_control as a base backup at the LSN would hold it: computed on the blocking dispatcher
     * (it reads the store and the WAL since the last checkpoint), one row per pg_controldata
     * line, times in the server's time zone as pg_controldata prints them.
     */
    private CompletionStage<QueryResult> controlFile(ServerCommand.ControlFile c) {
        java.util.concurrent.Executor blocking = system.dispatchers()
            .lookup(org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                r -> new Tenants.GetTenant(c.systemId(), r), STATUS_TIMEOUT, system.scheduler())
            .thenCompose(t -> {
                if (t.isEmpty()) {
                    throw BaseBackupException.unknownTenant(c.systemId().toString());
                }
                return AskPattern.<TenantSupervisor.Command, TenantStore>ask(t.get(), TenantSupervisor.GetStore::new,
                    STATUS_TIMEOUT, system.scheduler());
            })
            .thenApplyAsync(store -> {
                List<List<String>> rows = new ArrayList<>();
                for (Map.Entry<String, String> e : BaseBackup.prepare(store, c.lsn(), false).controlFile()
                    .controlData(java.time.ZoneId.systemDefault())) {
                    rows.add(List.of(e.getKey(), e.getValue()));
                }
                return (QueryResult) new QueryResult.Rows(CONTROLFILE_COLUMNS, rows);
            }, blocking)
            .exceptionally(e -> {
                Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                    ? e.getCause() : e;
                if (cause instanceof BaseBackupException b) {
                    return new QueryResult.Error(b.sqlState(), b.getMessage());
                }
                return new QueryResult.Error(SqlState.INTERNAL_ERROR, "controlfile failed: " + Errors.rootMessage(e));
            });
    }

    /**
     * The tar as CopyOut data, once the request is checked: a bad one is an ErrorResponse
     * before any byte.
     */
    private CompletionStage<QueryResult> baseBackup(ServerCommand.BaseBackup b) {
        return (b.standby() ? backups.prepareStandby(b.systemId(), b.lsn()) : backups.prepare(b.systemId(), b.lsn(), b.minimal()))
            .thenApply(backup -> (QueryResult) new QueryResult.CopyOut(backups.tar(b.systemId(), backup), "COPY"))
            .exceptionally(e -> {
                org.pageserver.protocol.pgwire.PgProtocolException pe = BaseBackups.asProtocolError(e);
                return new QueryResult.Error(pe.sqlState(), pe.getMessage());
            });
    }

    private CompletionStage<QueryResult> status(String user) {
        return AskPattern.<Tenants.Command, List<TenantSupervisor.TenantStatus>>ask(tenants, Tenants.GetStatus::new,
                STATUS_TIMEOUT, system.scheduler())
            .thenApply(list -> {
                List<List<String>> rows = new ArrayList<>();
                for (TenantSupervisor.TenantStatus s : list) {
                    if (!mayRead(user, s.systemId())) {
                        continue;
                    }
                    String state = s.error() == null ? s.state() : s.state() + ": " + s.error();
                    rows.add(List.of(s.systemId().toString(), state, lsn(s.lastValidLsn()), lsn(s.lastRecordLsn()),
                        lsn(s.durableLsn()), lsn(s.consistentLsn()), s.primary(), backups.running(s.systemId()),
                        lsn(s.horizonLsn())));
                }
                return (QueryResult) new QueryResult.Rows(STATUS_COLUMNS, rows);
            })
            .exceptionally(e -> new QueryResult.Error(SqlState.INTERNAL_ERROR, "status failed: " + Errors.rootMessage(e)));
    }

    private CompletionStage<QueryResult> callMeMaybe(String conninfo) {
        return AskPattern.<Tenants.Command, Tenants.CallMeMaybeReply>ask(tenants,
                r -> new Tenants.CallMeMaybe(conninfo, r), CALLMEMAYBE_TIMEOUT, system.scheduler())
            .thenApply(r -> {
                if (r instanceof Tenants.Following f) {
                    return (QueryResult) new QueryResult.Rows(List.of(Column.text("system_id")),
                        List.of(List.of(f.systemId().toString())));
                }
                return new QueryResult.Error(SqlState.CONNECTION_FAILURE, ((Tenants.CallMeMaybeFailed) r).message());
            })
            .exceptionally(e -> new QueryResult.Error(SqlState.INTERNAL_ERROR, "callmemaybe failed: " + Errors.rootMessage(e)));
    }

    static final List<Column> DETACH_COLUMNS = List.of(Column.text("system_id"), Column.text("data"),
        Column.text("slot"));

    /**
     * One row: the system_id, what became of the data ({@code kept} or {@code deleted}) and of
     * the slot on the primary ({@code kept}, {@code dropped}, or {@code not dropped: <why>}).
     */
    private CompletionStage<QueryResult> detach(ServerCommand.Detach d) {
        return AskPattern.<Tenants.Command, Tenants.DetachReply>ask(tenants,
                r -> new Tenants.Detach(d.systemId(), d.delete(), r), CALLMEMAYBE_TIMEOUT, system.scheduler())
            .thenApply(r -> {
                if (r instanceof Tenants.Detached ok) {
                    return (QueryResult) new QueryResult.Rows(DETACH_COLUMNS, List.of(List.of(ok.systemId().toString(),
                        ok.deleted() ? "deleted" : "kept", ok.slot())));
                }
                Tenants.DetachFailed f = (Tenants.DetachFailed) r;
                String state = switch (f.reason()) {
                    case UNKNOWN_TENANT -> SqlState.UNDEFINED_OBJECT;
                    case BUSY -> SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE;
                    case FAILED -> SqlState.IO_ERROR;
                };
                return new QueryResult.Error(state, f.message());
            })
            .exceptionally(e -> new QueryResult.Error(SqlState.INTERNAL_ERROR, "detach failed: " + Errors.rootMessage(e)));
    }

    private static String lsn(Lsn l) {
        return l.toString();
    }

    private static CompletionStage<QueryResult> done(QueryResult r) {
        return CompletableFuture.completedFuture(r);
    }
}
