package org.pageserver.protocol.control;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.pageserver.protocol.Lsn;

/**
 * pg_control: ControlFileData of PostgreSQL 15 (catalog/pg_control.h, PG_CONTROL_VERSION 1300),
 * little-endian with x86-64 alignment. The file is PG_CONTROL_FILE_SIZE (8192) bytes; the
 * struct is its prefix and its CRC32C covers everything before the crc field.
 *
 * <pre>
 *   0 system_identifier u64     8 pg_control_version u32   12 catalog_version_no u32
 *  16 state i32                24 time i64                 32 checkPoint u64
 *  40 checkPointCopy (CheckPoint, 88 bytes):
 *       +0 redo u64  +8 ThisTimeLineID u32  +12 PrevTimeLineID u32  +16 fullPageWrites bool
 *      +24 nextXid u64 (epoch:xid)  +32 nextOid  +36 nextMulti  +40 nextMultiOffset
 *      +44 oldestXid  +48 oldestXidDB  +52 oldestMulti  +56 oldestMultiDB  +64 time i64
 *      +72 oldestCommitTsXid  +76 newestCommitTsXid  +80 oldestActiveXid
 * 128 unloggedLSN u64        136 minRecoveryPoint u64    144 minRecoveryPointTLI u32
 * 152 backupStartPoint u64   160 backupEndPoint u64      168 backupEndRequired bool
 * 172 wal_level i32          176 wal_log_hints bool      180 MaxConnections i32
 * 184 max_worker_processes   188 max_wal_senders         192 max_prepared_xacts
 * 196 max_locks_per_xact     200 track_commit_timestamp  204 maxAlign u32
 * 208 floatFormat f64        216 blcksz  220 relseg_size  224 xlog_blcksz  228 xlog_seg_size
 * 232 nameDataLen  236 indexMaxKeys  240 toast_max_chunk_size  244 loblksize
 * 248 float8ByVal bool       252 data_checksum_version u32
 * 256 mock_authentication_nonce[32]                      288 crc u32
 * </pre>
 *
 * Kept as the raw bytes plus accessors, so that {@link #write} reproduces the file exactly and
 * a base backup can patch single fields.
 */
public final class ControlFile {
    public static final int PG_CONTROL_VERSION = 1300;
    public static final int PG_CONTROL_FILE_SIZE = 8192;
    /** offsetof(ControlFileData, crc). */
    public static final int CRC_OFFSET = 288;
    static final int CHECKPOINT_COPY = 40;

    /** DBState (pg_control.h), with pg_controldata's wording. */
    public enum DbState {
        STARTUP("starting up"), SHUTDOWNED("shut down"), SHUTDOWNED_IN_RECOVERY("shut down in recovery"),
        SHUTDOWNING("shutting down"), IN_CRASH_RECOVERY("in crash recovery"), IN_ARCHIVE_RECOVERY("in archive recovery"),
        IN_PRODUCTION("in production");

        public final String text;

        DbState(String text) {
            this.text = text;
        }
    }

    private final byte[] bytes;
    private final ByteBuffer b;

    private ControlFile(byte[] bytes) {
        this.bytes = bytes;
        this.b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Parses and checks length, version and CRC. */
    public static ControlFile parse(byte[] file) {
        if (file.length < CRC_OFFSET + 4) {
            throw new ControlFileException("pg_control is too short: " + file.length + " bytes");
        }
        ControlFile c = new ControlFile(file.clone());
        if (c.pgControlVersion() != PG_CONTROL_VERSION) {
            throw new ControlFileException("pg_control version " + c.pgControlVersion() + " is not PostgreSQL 15's "
                + PG_CONTROL_VERSION);
        }
        if (c.computeCrc() != c.b.getInt(CRC_OFFSET)) {
            throw new ControlFileException("incorrect checksum in pg_control");
        }
        return c;
    }

    private int computeCrc() {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, CRC_OFFSET);
        return (int) crc.getValue();
    }

    public long systemIdentifier() {
        return b.getLong(0);
    }

    public int pgControlVersion() {
        return b.getInt(8);
    }

    public int catalogVersionNo() {
        return b.getInt(12);
    }

    public DbState state() {
        int s = b.getInt(16);
        return s >= 0 && s < DbState.values().length ? DbState.values()[s] : null;
    }

    public long time() {
        return b.getLong(24);
    }

    public Lsn checkPoint() {
        return new Lsn(b.getLong(32));
    }

    public CheckPoint checkPointCopy() {
        return CheckPoint.read(b, CHECKPOINT_COPY);
    }

    public Lsn minRecoveryPoint() {
        return new Lsn(b.getLong(136));
    }

    public int walLevel() {
        return b.getInt(172);
    }

    public boolean walLogHints() {
        return bytes[176] != 0;
    }

    /** XLogHintBitIsNeeded(): hint-bit-only changes are WAL-logged (data checksums or wal_log_hints). */
    public boolean hintBitsLogged() {
        return dataChecksumVersion() != 0 || walLogHints();
    }

    public int blcksz() {
        return b.getInt(216);
    }

    public int xlogSegSize() {
        return b.getInt(228);
    }

    public int dataChecksumVersion() {
        return b.getInt(252);
    }

    /**
     * CheckPoint (pg_control.h): the last checkpoint record's contents, {@link #SIZE} bytes
     * little-endian, laid out as in checkPointCopy above. It is also the main data of an
     * XLOG_CHECKPOINT_SHUTDOWN / ONLINE record.
     *
     * @param nextXid FullTransactionId: epoch in the high 32 bits, xid in the low
     */
    public record CheckPoint(Lsn redo, int thisTimeLineId, int prevTimeLineId, boolean fullPageWrites, long nextXid,
                             int nextOid, int nextMulti, int nextMultiOffset, int oldestXid, int oldestXidDb,
                             int oldestMulti, int oldestMultiDb, long time, int oldestCommitTsXid,
                             int newestCommitTsXid, int oldestActiveXid) {
        /** sizeof(CheckPoint) on x86-64, padding included. */
        public static final int SIZE = 88;

        /**
         * Parses a checkpoint record's main data.
         *
         * @throws ControlFileException when it is shorter than {@link #SIZE} bytes
         */
        public static CheckPoint parse(byte[] data) {
            if (data == null || data.length < SIZE) {
                throw new ControlFileException("a CheckPoint is " + SIZE + " bytes, not "
                    + (data == null ? 0 : data.length));
            }
            return read(ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN), 0);
        }

        static CheckPoint read(ByteBuffer b, int o) {
            return new CheckPoint(new Lsn(b.getLong(o)), b.getInt(o + 8), b.getInt(o + 12), b.get(o + 16) != 0,
                b.getLong(o + 24), b.getInt(o + 32), b.getInt(o + 36), b.getInt(o + 40), b.getInt(o + 44),
                b.getInt(o + 48), b.getInt(o + 52), b.getInt(o + 56), b.getLong(o + 64), b.getInt(o + 72),
                b.getInt(o + 76), b.getInt(o + 80));
        }

        void put(ByteBuffer b, int o) {
            b.putLong(o, redo.value()).putInt(o + 8, thisTimeLineId).putInt(o + 12, prevTimeLineId)
                .put(o + 16, (byte) (fullPageWrites ? 1 : 0)).putLong(o + 24, nextXid).putInt(o + 32, nextOid)
                .putInt(o + 36, nextMulti).putInt(o + 40, nextMultiOffset).putInt(o + 44, oldestXid)
                .putInt(o + 48, oldestXidDb).putInt(o + 52, oldestMulti).putInt(o + 56, oldestMultiDb)
                .putLong(o + 64, time).putInt(o + 72, oldestCommitTsXid).putInt(o + 76, newestCommitTsXid)
                .putInt(o + 80, oldestActiveXid);
        }

        /** The struct's bytes, padding zeroed (what a checkpoint record carries). */
        public byte[] toBytes() {
            byte[] out = new byte[SIZE];
            put(ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN), 0);
            return out;
        }

        /** The xid part of nextXid. */
        public int nextXidValue() {
            return (int) nextXid;
        }

        public int nextXidEpoch() {
            return (int) (nextXid >>> 32);
        }
    }

    /**
     * The server settings pg_control records because a standby needs at least as much
     * (xl_parameter_change carries the same values; XLogReportParameters writes both).
     */
    public record Parameters(int maxConnections, int maxWorkerProcesses, int maxWalSenders, int maxPreparedXacts,
                             int maxLocksPerXact, int walLevel, boolean walLogHints, boolean trackCommitTimestamp) {
    }

    public Parameters parameters() {
        return new Parameters(b.getInt(180), b.getInt(184), b.getInt(188), b.getInt(192), b.getInt(196),
            b.getInt(172), bytes[176] != 0, bytes[200] != 0);
    }

    /** A copy with the settings changed, as xlog_redo applies an XLOG_PARAMETER_CHANGE record. */
    public ControlFile withParameters(Parameters p) {
        return edit(e -> e.putInt(180, p.maxConnections()).putInt(184, p.maxWorkerProcesses())
            .putInt(188, p.maxWalSenders()).putInt(192, p.maxPreparedXacts()).putInt(196, p.maxLocksPerXact())
            .putInt(172, p.walLevel()).put(176, (byte) (p.walLogHints() ? 1 : 0))
            .put(200, (byte) (p.trackCommitTimestamp() ? 1 : 0)));
    }

    /** A copy whose latest checkpoint is the record at {@code location} carrying {@code cp}. */
    public ControlFile withCheckPoint(Lsn location, CheckPoint cp) {
        return edit(e -> {
            e.putLong(32, location.value());
            cp.put(e, CHECKPOINT_COPY);
        });
    }

    /** A copy with pg_control's own modification time (seconds since the epoch). */
    public ControlFile withTime(long epochSeconds) {
        return edit(e -> e.putLong(24, epochSeconds));
    }

    public Lsn unloggedLsn() {
        return new Lsn(b.getLong(128));
    }

    /** A copy with the fake-LSN counter of unlogged relations changed. */
    public ControlFile withUnloggedLsn(Lsn lsn) {
        return edit(e -> e.putLong(128, lsn.value()));
    }

    /** A copy with no backup in progress: backupStartPoint, backupEndPoint 0, backupEndRequired false. */
    public ControlFile withoutBackupPoints() {
        return edit(e -> e.putLong(152, 0).putLong(160, 0).put(168, (byte) 0));
    }

    private ControlFile edit(java.util.function.Consumer<ByteBuffer> change) {
        ControlFile c = new ControlFile(write());
        change.accept(c.b);
        return new ControlFile(c.write());
    }

    /**
     * The lines pg_controldata (PostgreSQL 15, C locale) prints for this file, as (label,
     * value) pairs: the label without its colon, the value as printed after the padding. Times
     * are formatted as strftime's "%c" in {@code zone}, as pg_controldata does in the local one.
     */
    public java.util.List<java.util.Map.Entry<String, String>> controlData(java.time.ZoneId zone) {
        java.util.List<java.util.Map.Entry<String, String>> out = new java.util.ArrayList<>();
        CheckPoint cp = checkPointCopy();
        Parameters p = parameters();
        int segSize = xlogSegSize();
        String redoFile = segSize > 0 ? walFileName(cp.thisTimeLineId(), cp.redo().value() / Integer.toUnsignedLong(segSize),
            segSize) : "???";
        StringBuilder nonce = new StringBuilder();
        for (int i = 0; i < 32; i++) {
            nonce.append(String.format("%02x", bytes[256 + i] & 0xFF));
        }
        add(out, "pg_control version number", u32(pgControlVersion()));
        add(out, "Catalog version number", u32(catalogVersionNo()));
        add(out, "Database system identifier", Long.toUnsignedString(systemIdentifier()));
        DbState state = state();
        add(out, "Database cluster state", state == null ? "unrecognized status code" : state.text);
        add(out, "pg_control last modified", ctime(time(), zone));
        add(out, "Latest checkpoint location", checkPoint().toString());
        add(out, "Latest checkpoint's REDO location", cp.redo().toString());
        add(out, "Latest checkpoint's REDO WAL file", redoFile);
        add(out, "Latest checkpoint's TimeLineID", u32(cp.thisTimeLineId()));
        add(out, "Latest checkpoint's PrevTimeLineID", u32(cp.prevTimeLineId()));
        add(out, "Latest checkpoint's full_page_writes", cp.fullPageWrites() ? "on" : "off");
        add(out, "Latest checkpoint's NextXID", u32(cp.nextXidEpoch()) + ":" + u32(cp.nextXidValue()));
        add(out, "Latest checkpoint's NextOID", u32(cp.nextOid()));
        add(out, "Latest checkpoint's NextMultiXactId", u32(cp.nextMulti()));
        add(out, "Latest checkpoint's NextMultiOffset", u32(cp.nextMultiOffset()));
        add(out, "Latest checkpoint's oldestXID", u32(cp.oldestXid()));
        add(out, "Latest checkpoint's oldestXID's DB", u32(cp.oldestXidDb()));
        add(out, "Latest checkpoint's oldestActiveXID", u32(cp.oldestActiveXid()));
        add(out, "Latest checkpoint's oldestMultiXid", u32(cp.oldestMulti()));
        add(out, "Latest checkpoint's oldestMulti's DB", u32(cp.oldestMultiDb()));
        add(out, "Latest checkpoint's oldestCommitTsXid", u32(cp.oldestCommitTsXid()));
        add(out, "Latest checkpoint's newestCommitTsXid", u32(cp.newestCommitTsXid()));
        add(out, "Time of latest checkpoint", ctime(cp.time(), zone));
        add(out, "Fake LSN counter for unlogged rels", unloggedLsn().toString());
        add(out, "Minimum recovery ending location", minRecoveryPoint().toString());
        add(out, "Min recovery ending loc's timeline", u32(b.getInt(144)));
        add(out, "Backup start location", new Lsn(b.getLong(152)).toString());
        add(out, "Backup end location", new Lsn(b.getLong(160)).toString());
        add(out, "End-of-backup record required", bytes[168] != 0 ? "yes" : "no");
        add(out, "wal_level setting", switch (p.walLevel()) {
            case 0 -> "minimal";
            case 1 -> "replica";
            case 2 -> "logical";
            default -> "unrecognized wal_level";
        });
        add(out, "wal_log_hints setting", p.walLogHints() ? "on" : "off");
        add(out, "max_connections setting", String.valueOf(p.maxConnections()));
        add(out, "max_worker_processes setting", String.valueOf(p.maxWorkerProcesses()));
        add(out, "max_wal_senders setting", String.valueOf(p.maxWalSenders()));
        add(out, "max_prepared_xacts setting", String.valueOf(p.maxPreparedXacts()));
        add(out, "max_locks_per_xact setting", String.valueOf(p.maxLocksPerXact()));
        add(out, "track_commit_timestamp setting", p.trackCommitTimestamp() ? "on" : "off");
        add(out, "Maximum data alignment", u32(b.getInt(204)));
        add(out, "Database block size", u32(blcksz()));
        add(out, "Blocks per segment of large relation", u32(b.getInt(220)));
        add(out, "WAL block size", u32(b.getInt(224)));
        add(out, "Bytes per WAL segment", u32(segSize));
        add(out, "Maximum length of identifiers", u32(b.getInt(232)));
        add(out, "Maximum columns in an index", u32(b.getInt(236)));
        add(out, "Maximum size of a TOAST chunk", u32(b.getInt(240)));
        add(out, "Size of a large-object chunk", u32(b.getInt(244)));
        add(out, "Date/time type storage", "64-bit integers");
        add(out, "Float8 argument passing", bytes[248] != 0 ? "by value" : "by reference");
        add(out, "Data page checksum version", u32(dataChecksumVersion()));
        add(out, "Mock authentication nonce", nonce.toString());
        return out;
    }

    /** XLogFileName (xlog_internal.h): timeline, then the segment number split at 4 GB of WAL. */
    public static String walFileName(int timeline, long segNo, int segSize) {
        long segsPerId = 0x100000000L / Integer.toUnsignedLong(segSize);
        return String.format("%08X%08X%08X", timeline, segNo / segsPerId, segNo % segsPerId);
    }

    private static final java.time.format.DateTimeFormatter CTIME =
        java.time.format.DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", java.util.Locale.ROOT);

    private static String ctime(long epochSeconds, java.time.ZoneId zone) {
        return CTIME.format(java.time.Instant.ofEpochSecond(epochSeconds).atZone(zone));
    }

    private static String u32(int v) {
        return Integer.toUnsignedString(v);
    }

    private static void add(java.util.List<java.util.Map.Entry<String, String>> out, String k, String v) {
        out.add(java.util.Map.entry(k, v));
    }

    /** The file as PostgreSQL writes it: the struct with a fresh CRC, zero-padded to 8192 bytes. */
    public byte[] write() {
        byte[] out = new byte[PG_CONTROL_FILE_SIZE];
        System.arraycopy(bytes, 0, out, 0, Math.min(bytes.length, PG_CONTROL_FILE_SIZE));
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(CRC_OFFSET, new ControlFile(out).computeCrc());
        return out;
    }

    /** A copy with {@code state} changed (e.g. a backup handed to a compute says "in production"). */
    public ControlFile withState(DbState state) {
        return edit(e -> e.putInt(16, state.ordinal()));
    }

    /** A copy with minRecoveryPoint/TLI changed. */
    public ControlFile withMinRecoveryPoint(Lsn lsn, int tli) {
        return edit(e -> e.putLong(136, lsn.value()).putInt(144, tli));
    }
}
