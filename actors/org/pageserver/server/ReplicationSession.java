package org.pageserver.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.pageserver.Settings;
import org.pageserver.backup.BaseBackup;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.PgType;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.pgwire.StartupOptions;
import org.pageserver.protocol.replication.BaseBackupOptions;
import org.pageserver.protocol.replication.ReplicationCommand;
import org.pageserver.protocol.replication.ReplicationCommandParser;
import org.pageserver.protocol.replication.ReplicationMessage;
import org.pageserver.storage.TenantStore;
import org.pageserver.streams.pgwire.Column;
import org.pageserver.streams.pgwire.PgSession;
import org.pageserver.streams.pgwire.QueryResult;
import org.pageserver.streams.pgwire.SessionInfo;
import org.pageserver.tenant.DurableWal;
import org.pageserver.tenant.TenantSupervisor;
import org.pageserver.tenant.Tenants;

/**
 * A replication connection (startup parameter {@code replication=true} or {@code database}), as
 * a walsender answers one: the replication commands of PostgreSQL 15 as simple queries
 * (exec_replication_command), about one tenant. The tenant and the LSN come from the startup
 * options ({@code PGOPTIONS='-c system_id=<id> -c lsn=<lsn>'}); without system_id the one tenant
 * the user may read is meant.
 *
 * <p>IDENTIFY_SYSTEM and SHOW (wal_segment_size, data_directory_mode: what pg_basebackup and
 * pg_receivewal ask) are answered from the tenant; READ_REPLICATION_SLOT finds no slot (the
 * pageserver has none but this connection's temporary ones). BASE_BACKUP sends the tenant's
 * data directory as of the LSN ({@link #baseBackup}), on a timeline of its own;
 * START_REPLICATION PHYSICAL streams its WAL as a walsender does ({@link #startReplication},
 * {@link WalSender}); TIMELINE_HISTORY finds only the history files of the backups being sent;
 * temporary physical slots can be made (pg_basebackup -X stream makes one), no other. On a
 * {@code replication=database} connection other queries are the ordinary commands; on a
 * physical one they are refused, as a walsender refuses SQL.
 */
final class ReplicationSession implements PgSession {

    static final List<Column> IDENTIFY_SYSTEM_COLUMNS = List.of(Column.text("systemid"), Column.int4("timeline"),
        Column.text("xlogpos"), Column.text("dbname"));
    static final List<Column> READ_REPLICATION_SLOT_COLUMNS = List.of(Column.text("slot_type"),
        Column.text("restart_lsn"), Column.int8("restart_tli"));
    /** The mode a data directory made from this server's backups should have (PostgreSQL's default). */
    static final String DATA_DIRECTORY_MODE = "0700";
    /** The largest message a standby sends during START_REPLICATION: a status update, 34 bytes. */
    static final int MAX_STANDBY_MESSAGE = 64;

    private final ActorSystem<?> system;
    private final ActorRef<Tenants.Command> tenants;
    private final BaseBackups backups;
    private final Duration timeout;
    private final Predicate<SystemId> mayRead;
    private final SessionInfo info;
    private final StartupOptions.Replication mode;
    /** The ordinary commands, for SQL on a replication=database connection. */
    private final PgSession sql;
    /** From the options; null: the only tenant. */
    private final SystemId systemId;
    /** From the options; null: the tenant's newest. */
    private final Lsn lsn;
    private final Duration keepaliveInterval;
    private final Executor blocking;
    /** Temporary physical slots made on this connection; they go with it. */
    private final Set<String> temporarySlots = new HashSet<>();

    ReplicationSession(ActorSystem<?> system, ActorRef<Tenants.Command> tenants, BaseBackups backups, Duration timeout,
                       Duration keepaliveInterval, Predicate<SystemId> mayRead, SessionInfo info,
                       StartupOptions.Replication mode, PgSession sql) {
        this.system = system;
        this.tenants = tenants;
        this.backups = backups;
        this.timeout = timeout;
        this.keepaliveInterval = keepaliveInterval;
        this.blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig(Settings.BLOCKING_DISPATCHER));
        this.mayRead = mayRead;
        this.info = info;
        this.mode = mode;
        this.sql = sql;
        Map<String, String> settings = StartupOptions.settings(info.parameters().get("options"));
        this.systemId = setting(settings, "system_id", SystemId::parse);
        this.lsn = setting(settings, "lsn", Lsn::parse);
    }

    private interface Parser<T> {
        T parse(String text);
    }

    /** A startup option's value, or null; a bad one refuses the connection (FATAL 22023). */
    private static <T> T setting(Map<String, String> settings, String name, Parser<T> parser) {
        String v = settings.get(name);
        if (v == null) {
            return null;
        }
        try {
            return parser.parse(v);
        } catch (RuntimeException e) {
            throw new PgProtocolException(SqlState.INVALID_PARAMETER_VALUE,
                "invalid value for parameter \"" + name + "\": \"" + v + "\"");
        }
    }

    @Override
    public CompletionStage<QueryResult> query(String text) {
        if (!ReplicationCommandParser.isReplicationCommand(text)) {
            if (mode == StartupOptions.Replication.DATABASE) {
                return sql.query(text);
            }
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED,
                "cannot execute SQL commands in WAL sender for physical replication"));
        }
        ReplicationCommand c;
        try {
            c = ReplicationCommandParser.parse(text);
        } catch (PgProtocolException e) {
            return done(new QueryResult.Error(e.sqlState(), e.getMessage()));
        }
        if (c instanceof ReplicationCommand.IdentifySystem) {
            return identifySystem();
        }
        if (c instanceof ReplicationCommand.Show s) {
            return show(s.name());
        }
        if (c instanceof ReplicationCommand.ReadReplicationSlot r) {
            String type = temporarySlots.contains(r.slot()) ? "physical" : null;
            return done(new QueryResult.Rows(READ_REPLICATION_SLOT_COLUMNS, List.of(Arrays.asList(type, null, null))));
        }
        if (c instanceof ReplicationCommand.TimelineHistory t) {
            return timelineHistory(t.timeline());
        }
        if (c instanceof ReplicationCommand.CreateReplicationSlot create) {
            return createSlot(create);
        }
        if (c instanceof ReplicationCommand.DropReplicationSlot drop) {
            if (!temporarySlots.remove(drop.slot())) {
                return done(slotDoesNotExist(drop.slot()));
            }
            return done(new QueryResult.Command("DROP_REPLICATION_SLOT"));
        }
        if (c instanceof ReplicationCommand.BaseBackup b) {
            return baseBackup(b.options());
        }
        return startReplication((ReplicationCommand.StartReplication) c);
    }

    static final List<Column> TIMELINE_HISTORY_COLUMNS = List.of(Column.text("filename"), Column.text("content"));

    /**
     * TIMELINE_HISTORY: the history file of the timeline of a backup being sent to a connection
     * with the same options (pg_basebackup -X stream asks for it before streaming that
     * backup's WAL, see {@link #identifySystem}); of no other timeline: PostgreSQL has no
     * history file for timeline 1, and the pageserver keeps none of its primary's.
     */
    private CompletionStage<QueryResult> timelineHistory(long timeline) {
        return tenant().thenApply(status -> backups.offered(status.systemId(), lsn)
            .filter(w -> Integer.toUnsignedLong(w.timeline()) == timeline)
            .map(w -> (QueryResult) new QueryResult.Rows(TIMELINE_HISTORY_COLUMNS,
                List.of(List.of(w.history().fileName(), w.history().content())), "TIMELINE_HISTORY"))
            .orElseGet(() -> new QueryResult.Error(SqlState.UNDEFINED_FILE,
                String.format("could not open file \"pg_wal/%08X.history\": No such file or directory", timeline),
                "the pageserver keeps no timeline history files but those of the base backups it is sending: "
                    + "it follows its primary's current timeline only")));
    }

    static final List<Column> CREATE_REPLICATION_SLOT_COLUMNS = List.of(Column.text("slot_name"),
        Column.text("consistent_point"), Column.text("snapshot_name"), Column.text("output_plugin"));

    /**
     * A temporary physical slot is made, as pg_basebackup -X stream makes one for its WAL
     * connection: it lives as long as this connection and holds nothing back (the pageserver
     * keeps all the WAL it stores), so its consistent point is 0/0 as for a physical slot in
     * PostgreSQL. Persistent and logical slots are refused.
     */
    private CompletionStage<QueryResult> createSlot(ReplicationCommand.CreateReplicationSlot c) {
        if (!c.temporary() || c.logical()) {
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED, "the pageserver has no replication slots "
                + "but temporary physical ones: it keeps every WAL record it stores"));
        }
        if (!temporarySlots.add(c.slot())) {
            return done(new QueryResult.Error(SqlState.DUPLICATE_OBJECT,
                "replication slot \"" + c.slot() + "\" already exists"));
        }
        return done(new QueryResult.Rows(CREATE_REPLICATION_SLOT_COLUMNS,
            List.of(Arrays.asList(c.slot(), "0/0", null, null)), "CREATE_REPLICATION_SLOT"));
    }

    private static QueryResult slotDoesNotExist(String slot) {
        return new QueryResult.Error(SqlState.UNDEFINED_OBJECT, "replication slot \"" + slot + "\" does not exist");
    }

    /**
     * START_REPLICATION [SLOT s] [PHYSICAL] X/X [TIMELINE t], as StartReplication answers it:
     * a slot must exist (only this connection's temporary slot does), the timeline must be the
     * tenant's (it has no history of others), the position within the WAL kept (58P01 as for a
     * removed segment otherwise); a position beyond what is stored waits for it. The WAL is the
     * tenant's stored WAL, except on the timeline of a base backup this pageserver is sending
     * on another connection of the same options, from its WAL segment
     * ({@link BaseBackups#walOf}): that is the backup's own WAL, its shutdown checkpoint on the
     * backup's new timeline, which pg_basebackup -X stream fetches.
     */
    private CompletionStage<QueryResult> startReplication(ReplicationCommand.StartReplication c) {
        if (c.slot() != null && (c.logical() || !temporarySlots.contains(c.slot()))) {
            return done(slotDoesNotExist(c.slot()));
        }
        return tenant().thenCompose(status -> supervisor(status.systemId())).thenCompose(t ->
            AskPattern.<TenantSupervisor.Command, TenantSupervisor.Identity>ask(t, TenantSupervisor.GetIdentity::new,
                timeout, system.scheduler()).thenCompose(id -> {
                    Optional<BaseBackups.BackupWal> own = c.timeline() == 0 ? Optional.empty()
                        : backups.walOf(id.systemId(), lsn, c.timeline(), c.start());
                    if (own.isPresent()) {
                        return done(copyBoth(WalSender.backup(system, own.get()), c.start()));
                    }
                    if (c.timeline() != 0 && c.timeline() != Integer.toUnsignedLong(id.timeline())) {
                        return done(new QueryResult.Error(SqlState.INTERNAL_ERROR,
                            "requested timeline " + c.timeline() + " is not in this server's history"));
                    }
                    return storedWal(t, id, c.start());
                }));
    }

    private CompletionStage<QueryResult> storedWal(ActorRef<TenantSupervisor.Command> t, TenantSupervisor.Identity id,
                                                   Lsn start) {
        CompletionStage<TenantStore> store = AskPattern.ask(t, TenantSupervisor.GetStore::new, timeout, system.scheduler());
        CompletionStage<ActorRef<DurableWal.Command>> durable = AskPattern.ask(t, TenantSupervisor.GetDurableWal::new,
            timeout, system.scheduler());
        return store.thenCombine(durable, Pair::create).thenApplyAsync(p -> {
            // the WAL is kept from the start of the segment the tenant began to follow
            Lsn kept = p.first().walStart();
            if (!kept.isValid()) {
                kept = p.first().meta().orElseThrow().startLsn().segmentStart(id.walSegSize());
            }
            if (start.isBefore(kept)) {
                return new QueryResult.Error(SqlState.UNDEFINED_FILE, "requested WAL segment " + ControlFile.walFileName(
                    id.timeline(), start.segmentNumber(id.walSegSize()), id.walSegSize()) + " has already been removed");
            }
            return copyBoth(WalSender.stored(system, p.second(), p.first(), blocking), start);
        }, blocking);
    }

    private QueryResult copyBoth(WalSender.WalSource wal, Lsn start) {
        return new QueryResult.CopyBoth(WalSender.flow(wal, start, keepaliveInterval), "START_STREAMING",
            MAX_STANDBY_MESSAGE);
    }

    @Override
    public void close() {
        backups.withdrawWal(this);
        sql.close();
    }

    static final List<Column> POSITION_COLUMNS = List.of(Column.text("recptr"), Column.int8("tli"));
    static final List<Column> TABLESPACE_COLUMNS = List.of(new Column("spcoid", PgType.OID),
        Column.text("spclocation"), Column.int8("size"));
    /** How often (bytes) a PROGRESS backup reports how far it is. */
    static final long PROGRESS_INTERVAL = 1 << 20;
    /** Archive bytes per 'd' message: with its type byte, within the 64 kB a CopyData carries. */
    static final int DATA_MESSAGE_BYTES = 32 << 10;

    /**
     * BASE_BACKUP as PostgreSQL 15's walsender answers it to pg_basebackup: the start position
     * (LSN and timeline), the tablespace list (one row: the data directory, its size in kB when
     * PROGRESS is asked; tablespaces are in it, as in-place directories under pg_tblspc), the
     * archives in one COPY OUT ('n' base.tar, its bytes in 'd' messages, 'p' progress, then the
     * backup_manifest unless MANIFEST 'no'), the end position. The backup is the pageserver's:
     * the tenant's data directory as of the LSN of the connection's options (else its latest),
     * which starts without replay; the only WAL it needs is the shutdown checkpoint record it
     * holds, on the backup's own timeline (the tenant's plus one), so that record's start and
     * end on that timeline are the positions reported and the manifest's WAL range (what
     * pg_verifybackup reads, in the segment base.tar holds), no checkpoint is made on any
     * primary (CHECKPOINT, WAIT are moot), and WAL (-X fetch) adds nothing. What cannot be
     * honoured is refused before any byte: a server-side target or compression (pg_basebackup compresses on its side with
     * -z), MAX_RATE.
     */
    private CompletionStage<QueryResult> baseBackup(BaseBackupOptions o) {
        if (o.target() != null && !o.target().equals("client")) {
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED,
                "backup target \"" + o.target() + "\" is not supported by the pageserver: it sends backups to the client"));
        }
        if (!o.compression().equals("none")) {
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED, "server-side compression (" + o.compression()
                + ") is not supported by the pageserver: compress on the client (pg_basebackup -z)"));
        }
        if (o.manifest().equals("force-encode") || (!o.manifest().equals("no")
            && !o.manifestChecksums().equals("CRC32C"))) {
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED, "the pageserver writes backup manifests "
                + "with CRC32C checksums and plain paths only (pg_basebackup's defaults)"));
        }
        if (o.maxRate() != 0) {
            return done(new QueryResult.Error(SqlState.FEATURE_NOT_SUPPORTED, "MAX_RATE is not supported by the pageserver"));
        }
        return tenant()
            .thenCompose(status -> backups.prepareWithSize(status.systemId(), lsn, false)
                .thenApply(p -> {
                    BaseBackup backup = p.backup();
                    backups.offerWal(this, status.systemId(), lsn, backup);
                    String tli = Long.toString(Integer.toUnsignedLong(backup.controlFile().checkPointCopy().thisTimeLineId()));
                    List<String> base = Arrays.asList(null, null, o.progress() ? Long.toString(p.estimatedBytes() / 1024) : null);
                    Source<ByteString, NotUsed> archives = copyStream(backups.tar(status.systemId(), backup), o.progress());
                    if (!o.manifest().equals("no")) {
                        // asked for once the tar is done: the manifest is built while it is written
                        archives = archives.concatLazy(Source.lazySource(() -> manifestMessages(backup.manifest()))
                            .mapMaterializedValue(m -> NotUsed.getInstance()));
                    }
                    return (QueryResult) new QueryResult.Sequence(List.of(
                        new QueryResult.Rows(POSITION_COLUMNS, List.of(List.of(backup.walStart().toString(), tli)), "SELECT"),
                        new QueryResult.Rows(TABLESPACE_COLUMNS, List.of(base), "SELECT"),
                        new QueryResult.CopyOut(archives, "COPY"),
                        new QueryResult.Rows(POSITION_COLUMNS, List.of(List.of(backup.walEnd().toString(), tli)), "SELECT")),
                        "BASE_BACKUP");
                }))
            .exceptionally(e -> {
                PgProtocolException pe = BaseBackups.asProtocolError(e);
                return new QueryResult.Error(pe.sqlState(), pe.getMessage());
            });
    }

    /** The manifest as PostgreSQL 15's copy stream sends it: 'm', then its bytes in 'd' messages. */
    static Source<ByteString, NotUsed> manifestMessages(byte[] manifest) {
        List<ByteString> out = new ArrayList<>();
        out.add(ByteString.fromArrayUnsafe(new ReplicationMessage.ManifestStart().toBytes()));
        for (int off = 0; off < manifest.length; off += DATA_MESSAGE_BYTES) {
            out.add(ByteString.fromArrayUnsafe(ReplicationMessage.archiveData(manifest, off,
                Math.min(DATA_MESSAGE_BYTES, manifest.length - off))));
        }
        return Source.from(out);
    }

    /** The tar in PostgreSQL 15's copy-stream messages: 'n' once, then 'd' pieces, 'p' every megabyte. */
    static Source<ByteString, NotUsed> copyStream(
        Source<ByteString, NotUsed> tar,
        boolean progress) {
        byte[] begin = new ReplicationMessage.NewArchive("base.tar", null).toBytes();
        return Source.single(ByteString.fromArrayUnsafe(begin))
            .concat(tar.statefulMapConcat(() -> {
                long[] done = {0, 0}; // bytes sent, bytes at the last progress message
                return chunk -> {
                    List<ByteString> out = new ArrayList<>();
                    byte[] bytes = chunk.toArrayUnsafe();
                    for (int off = 0; off < bytes.length; off += DATA_MESSAGE_BYTES) {
                        int n = Math.min(DATA_MESSAGE_BYTES, bytes.length - off);
                        out.add(ByteString.fromArrayUnsafe(
                            ReplicationMessage.archiveData(bytes, off, n)));
                    }
                    done[0] += bytes.length;
                    if (progress && done[0] - done[1] >= PROGRESS_INTERVAL) {
                        done[1] = done[0];
                        out.add(ByteString.fromArrayUnsafe(
                            new ReplicationMessage.Progress(done[0]).toBytes()));
                    }
                    return out;
                };
            }));
    }

    /**
     * IDENTIFY_SYSTEM: the tenant's system identifier and timeline, the {@code lsn} option or
     * the tenant's last record, the database.
     *
     * <p>pg_basebackup -X stream's second connection is told the timeline of the backup it
     * streams the WAL of instead: a writable backup is on a timeline of its own, the tenant's
     * plus one, which the BASE_BACKUP start position names, and pg_basebackup refuses to stream
     * a timeline above the one IDENTIFY_SYSTEM answers. That connection is the one that made a
     * temporary slot before asking (pg_basebackup makes one first unless --no-slot) while a
     * backup is being sent to a connection with the same options. A standby's walreceiver asks
     * IDENTIFY_SYSTEM before it makes any slot, so a standby is never told of a backup's
     * timeline (it would fetch its history file and take it for a promotion of its primary).
     */
    private CompletionStage<QueryResult> identifySystem() {
        boolean madeSlot = !temporarySlots.isEmpty();
        return tenant().thenCompose(status -> identity(status.systemId()).thenApply(id -> {
            Lsn pos = lsn != null ? lsn : status.lastRecordLsn().isValid() ? status.lastRecordLsn()
                : status.consistentLsn();
            int timeline = !madeSlot ? id.timeline()
                : backups.offered(id.systemId(), lsn).map(BaseBackups.BackupWal::timeline).orElse(id.timeline());
            String dbname = mode == StartupOptions.Replication.DATABASE ? info.database() : null;
            return (QueryResult) new QueryResult.Rows(IDENTIFY_SYSTEM_COLUMNS, List.of(Arrays.asList(id.systemId().toString(),
                Integer.toUnsignedString(timeline), pos.toString(), dbname)));
        }));
    }

    private CompletionStage<QueryResult> show(String name) {
        switch (name) {
            case "wal_segment_size":
                return tenant().thenCompose(status -> identity(status.systemId()))
                    .thenApply(id -> showResult(name, walSegmentSize(id.walSegSize())));
            case "data_directory_mode":
                return done(showResult(name, DATA_DIRECTORY_MODE));
            default:
                return done(new QueryResult.Error(SqlState.UNDEFINED_OBJECT,
                    "unrecognized configuration parameter \"" + name + "\""));
        }
    }

    /** As a SHOW of a GUC: one text column named after it, one row. */
    private static QueryResult showResult(String name, String value) {
        return new QueryResult.Rows(List.of(Column.text(name)), List.of(List.of(value)), "SHOW");
    }

    /** As PostgreSQL shows a size in bytes: in the largest unit that divides it ("16MB"). */
    static String walSegmentSize(int bytes) {
        if (bytes % (1 << 30) == 0) {
            return (bytes >> 30) + "GB";
        }
        if (bytes % (1 << 20) == 0) {
            return (bytes >> 20) + "MB";
        }
        if (bytes % 1024 == 0) {
            return (bytes >> 10) + "kB";
        }
        return bytes + "B";
    }

    /** The tenant meant: the one named in the options, else the only one this user may read. */
    private CompletionStage<TenantSupervisor.TenantStatus> tenant() {
        return AskPattern.<Tenants.Command, List<TenantSupervisor.TenantStatus>>ask(tenants, Tenants.GetStatus::new,
                timeout, system.scheduler())
            .thenApply(all -> {
                List<TenantSupervisor.TenantStatus> visible = new ArrayList<>();
                for (TenantSupervisor.TenantStatus s : all) {
                    if (mayRead.test(s.systemId())) {
                        visible.add(s);
                    }
                }
                return choose(visible, systemId);
            });
    }

    /** The tenant named, or the only one; a clear error otherwise. */
    static TenantSupervisor.TenantStatus choose(List<TenantSupervisor.TenantStatus> visible, SystemId wanted) {
        if (wanted != null) {
            for (TenantSupervisor.TenantStatus s : visible) {
                if (s.systemId().equals(wanted)) {
                    return s;
                }
            }
            throw new PgProtocolException(SqlState.UNDEFINED_OBJECT,
                "unknown system_id " + wanted + ": no such tenant (run callmemaybe first)");
        }
        if (visible.size() == 1) {
            return visible.get(0);
        }
        if (visible.isEmpty()) {
            throw new PgProtocolException(SqlState.UNDEFINED_OBJECT,
                "the pageserver has no tenant (run callmemaybe first)");
        }
        List<String> ids = new ArrayList<>();
        for (TenantSupervisor.TenantStatus s : visible) {
            ids.add(s.systemId().toString());
        }
        throw new PgProtocolException(SqlState.INVALID_PARAMETER_VALUE, "the pageserver has " + visible.size()
            + " tenants (" + String.join(", ", ids) + "): choose one with PGOPTIONS='-c system_id=<id>'");
    }

    private CompletionStage<ActorRef<TenantSupervisor.Command>> supervisor(SystemId id) {
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                r -> new Tenants.GetTenant(id, r), timeout, system.scheduler())
            .thenApply(t -> t.orElseThrow(() -> new PgProtocolException(SqlState.UNDEFINED_OBJECT, "tenant " + id + " is gone")));
    }

    private CompletionStage<TenantSupervisor.Identity> identity(SystemId id) {
        return supervisor(id).thenCompose(t -> AskPattern.<TenantSupervisor.Command, TenantSupervisor.Identity>ask(t,
            TenantSupervisor.GetIdentity::new, timeout, system.scheduler()));
    }

    private static CompletionStage<QueryResult> done(QueryResult r) {
        return CompletableFuture.completedFuture(r);
    }
}
