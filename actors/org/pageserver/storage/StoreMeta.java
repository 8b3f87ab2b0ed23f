package org.pageserver.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The entries of the store's {@code default} family, each under a key that names it: the
 * tenant metadata ({@link TenantMeta}), the durable LSN, the key layout's version and the
 * retention horizon. Numbers are stored as u64 big-endian, strings as UTF-8; an entry never
 * written reads as 0 or the empty string.
 */
final class StoreMeta {
    private static final byte[] SYSTEM_ID = StoreDb.bytes("system_id");
    private static final byte[] CONNINFO = StoreDb.bytes("conninfo");
    private static final byte[] TIMELINE = StoreDb.bytes("timeline");
    private static final byte[] WAL_SEG_SIZE = StoreDb.bytes("wal_seg_size");
    private static final byte[] START_LSN = StoreDb.bytes("start_lsn");
    private static final byte[] CONSISTENT_LSN = StoreDb.bytes("consistent_lsn");
    private static final byte[] SLOT = StoreDb.bytes("slot_name");
    private static final byte[] HINTS_LOGGED = StoreDb.bytes("hints_logged");
    private static final byte[] DURABLE_LSN = StoreDb.bytes("durable_lsn");
    private static final byte[] LAST_RECORD_LSN = StoreDb.bytes("last_record_lsn");
    static final byte[] FORMAT_VERSION = StoreDb.bytes("format_version");
    private static final byte[] HORIZON = StoreDb.bytes("horizon_lsn");

    private StoreMeta() {
    }

    static Optional<TenantMeta> read(StoreDb db) {
        return systemId(db).map(sys -> new TenantMeta(
            sys,
            string(db.get(db.meta, CONNINFO)),
            (int) longOf(db.get(db.meta, TIMELINE)),
            (int) longOf(db.get(db.meta, WAL_SEG_SIZE)),
            new Lsn(longOf(db.get(db.meta, START_LSN))),
            new Lsn(longOf(db.get(db.meta, CONSISTENT_LSN))),
            string(db.get(db.meta, SLOT)),
            longOf(db.get(db.meta, HINTS_LOGGED)) != 0));
    }

    /** The metadata's entries, into {@code b}. */
    static void put(StoreBatch b, TenantMeta m) {
        b.putEntry(SYSTEM_ID, longBytes(m.systemId().value()));
        b.putEntry(CONNINFO, StoreDb.bytes(m.conninfo()));
        b.putEntry(TIMELINE, longBytes(m.timeline()));
        b.putEntry(WAL_SEG_SIZE, longBytes(m.walSegSize()));
        b.putEntry(START_LSN, longBytes(m.startLsn().value()));
        b.putEntry(CONSISTENT_LSN, longBytes(m.consistentLsn().value()));
        b.putEntry(SLOT, StoreDb.bytes(m.slotName()));
        b.putEntry(HINTS_LOGGED, longBytes(m.hintsLogged() ? 1 : 0));
    }

    /** The tenant's system identifier, if its metadata has been written. */
    static Optional<SystemId> systemId(StoreDb db) {
        byte[] sys = db.get(db.meta, SYSTEM_ID);
        return sys == null ? Optional.empty() : Optional.of(new SystemId(ByteBuffer.wrap(sys).getLong()));
    }

    static void putDurableLsn(StoreBatch b, Lsn durable, Lsn lastRecord) {
        b.putEntry(DURABLE_LSN, longBytes(durable.value()));
        b.putEntry(LAST_RECORD_LSN, longBytes(lastRecord.value()));
    }

    static Lsn durableLsn(StoreDb db) {
        return new Lsn(longOf(db.get(db.meta, DURABLE_LSN)));
    }

    static Lsn lastRecordLsn(StoreDb db) {
        return new Lsn(longOf(db.get(db.meta, LAST_RECORD_LSN)));
    }

    static void putHorizon(StoreBatch b, Lsn horizon) {
        b.putEntry(HORIZON, longBytes(horizon.value()));
    }

    static Lsn horizon(StoreDb db) {
        return new Lsn(longOf(db.get(db.meta, HORIZON)));
    }

    static byte[] longBytes(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    private static long longOf(byte[] b) {
        return b == null ? 0 : ByteBuffer.wrap(b).getLong();
    }

    private static String string(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }
}
