package org.pageserver.tenant;

import java.nio.file.Path;
import org.pageserver.engine.TarFiles;
import org.pageserver.engine.TenantDirectories;
import org.pageserver.engine.BaseBackupImport;
import org.pageserver.Settings;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.control.ControlFile;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.storage.TenantMeta;
import org.pageserver.storage.TenantStore;
import org.pageserver.streams.replication.BaseBackupResult;
import org.pageserver.streams.replication.BaseBackupSink;
import org.pageserver.streams.replication.IdentifySystem;
import org.pageserver.streams.replication.ReplicationConnection;
import org.pageserver.streams.replication.WalReceiverSource;

/**
 * Creating a tenant from a live primary over its replication protocol: IDENTIFY_SYSTEM, a
 * physical slot (created BEFORE the backup, so the primary keeps every WAL segment from the
 * backup's start on: the WAL receiver can then start before the first record it needs, at
 * the start of the backup's first segment, with no race), BASE_BACKUP streamed straight into
 * the store, and the metadata written last: a tenant directory without metadata is an
 * unfinished import and is removed at the next start.
 */
public final class ReplicationBootstrap implements Tenants.Bootstrap {
    private final Settings settings;

    public ReplicationBootstrap(Settings settings) {
        this.settings = settings;
    }

    @Override
    public SystemId identify(String conninfo) {
        try (ReplicationConnection c = ReplicationConnection.open(ConnInfo.parse(conninfo), settings.connectTimeout())) {
            return c.identifySystem().systemId();
        }
    }

    @Override
    public TenantStore importTenant(String conninfo, SystemId expected, Path dir) {
        ConnInfo ci = ConnInfo.parse(conninfo);
        TenantStore store = TenantStore.open(dir, settings.storageSync(), settings.storageMemory());
        BaseBackupImport importer = new BaseBackupImport(store, expected);
        try (ReplicationConnection c = ReplicationConnection.open(ci, settings.connectTimeout())) {
            IdentifySystem id = c.identifySystem();
            if (!id.systemId().equals(expected)) {
                throw new IllegalStateException("the primary's system_id changed from " + expected + " to " + id.systemId());
            }
            int segSize = c.walSegmentSize();
            String slot = settings.slotPrefix() + id.systemId();
            c.createPhysicalSlot(slot);
            TarFiles tar = new TarFiles(importer);
            BaseBackupResult result = c.baseBackup("pageserver " + id.systemId(), new BaseBackupSink() {
                @Override
                public void start(Lsn startLsn, int timeline) {
                    importer.start(startLsn);
                }

                @Override
                public void archive(String name, String tablespaceLocation, java.io.InputStream data)
                    throws java.io.IOException {
                    if (tablespaceLocation == null || tablespaceLocation.isEmpty()) {
                        tar.readArchive(name, data);
                        return;
                    }
                    // basebackup.c names a tablespace's archive after its OID: "<oid>.tar"
                    Integer oid = name.endsWith(".tar")
                        ? TenantStore.tablespaceOid("pg_tblspc/" + name.substring(0, name.length() - 4)) : null;
                    if (oid == null) {
                        throw new IllegalStateException("tablespace archive \"" + name + "\" (at " + tablespaceLocation
                            + ") is not named <oid>.tar");
                    }
                    tar.readTablespaceArchive(name, oid, data);
                }
            });
            ControlFile control = importer.finish();
            if (control.checkPointCopy().thisTimeLineId() != result.startTimeline()) {
                throw new IllegalStateException("backup timeline " + result.startTimeline() + " differs from pg_control's "
                    + control.checkPointCopy().thisTimeLineId());
            }
            store.putMeta(new TenantMeta(expected, conninfo, result.startTimeline(), segSize, result.startLsn(),
                result.endLsn(), slot, control.hintBitsLogged()));
            store.flush();
            return store;
        } catch (RuntimeException e) {
            importer.abort();
            store.close();
            TenantDirectories.deleteTree(dir);
            throw e;
        }
    }

    @Override
    public void dropSlot(String conninfo, String slotName) {
        try (ReplicationConnection c = ReplicationConnection.open(ConnInfo.parse(conninfo), settings.connectTimeout())) {
            c.dropSlot(slotName);
        }
    }

    @Override
    public WalStream.WalSourceFactory walSources() {
        return (meta, start) -> WalReceiverSource.create(ConnInfo.parse(meta.conninfo()), meta.slotName(),
            meta.timeline(), start, settings.connectTimeout(), settings.statusInterval(), settings.receiveTimeout(),
            Settings.BLOCKING_DISPATCHER);
    }
}
