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
        int o = CHECKPOINT_COPY;
        return new CheckPoint(new Lsn(b.getLong(o)), b.getInt(o + 8), b.getInt(o + 12), bytes[o + 16] != 0,
            b.getLong(o + 24), b.getInt(o + 32), b.getInt(o + 36), b.getInt(o + 40), b.getInt(o + 44), b.getInt(o + 48),
            b.getInt(o + 52), b.getInt(o + 56), b.getLong(o + 64), b.getInt(o + 72), b.getInt(o + 76), b.getInt(o + 80));
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

    /** CheckPoint (pg_control.h): the last checkpoint record's contents. */
    public record CheckPoint(Lsn redo, int thisTimeLineId, int prevTimeLineId, boolean fullPageWrites, long nextXid,
                             int nextOid, int nextMulti, int nextMultiOffset, int oldestXid, int oldestXidDb,
                             int oldestMulti, int oldestMultiDb, long time, int oldestCommitTsXid,
                             int newestCommitTsXid, int oldestActiveXid) {
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
        ControlFile c = new ControlFile(write());
        c.b.putInt(16, state.ordinal());
        return new ControlFile(c.write());
    }

    /** A copy with minRecoveryPoint/TLI changed. */
    public ControlFile withMinRecoveryPoint(Lsn lsn, int tli) {
        ControlFile c = new ControlFile(write());
        c.b.putLong(136, lsn.value());
        c.b.putInt(144, tli);
        return new ControlFile(c.write());
    }
}
