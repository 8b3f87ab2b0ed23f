package org.pageserver.backup;

import java.util.List;
import java.util.Set;
import org.pageserver.protocol.SlruKind;
import org.pageserver.storage.WalStateFiles;

/**
 * What of a data directory a base backup carries over from the files the tenant store keeps,
 * and which directories it always has. The reference is basebackup.c (PG15): its
 * excludeDirContents and excludeFiles lists, plus what a backup made by the pageserver writes
 * itself and so must not copy stale from the imported backup.
 */
final class DataDirectoryLayout {
    /**
     * The directories initdb creates and a server expects (initdb.c's subdirs): empty unless
     * the backup puts something in them.
     */
    static final List<String> DIRECTORIES = List.of("global", "pg_wal", "pg_wal/archive_status", "pg_commit_ts",
        "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans", "pg_twophase", "pg_multixact",
        "pg_multixact/members", "pg_multixact/offsets", "base", "pg_replslot", "pg_tblspc", "pg_stat",
        "pg_stat_tmp", "pg_xact", "pg_logical", "pg_logical/snapshots", "pg_logical/mappings");

    /**
     * Directories whose contents are never carried over: basebackup.c's excludeDirContents
     * (statistics temp files, replication slots, dynamic shared memory, notifications,
     * serializable transactions, exported snapshots, subtransactions: all rebuilt or meaningless
     * at start), the permanent statistics (they describe the primary at import time), pg_wal
     * (the backup writes its own single segment) and the SLRUs (written from their
     * pseudo-relations as of L; the imported segments are stale).
     */
    static final List<String> EXCLUDED_DIR_CONTENTS = List.of("pg_stat_tmp", "pg_replslot", "pg_dynshmem",
        "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans", "pg_stat", "pg_wal", SlruKind.XACT.dir,
        SlruKind.MULTIXACT_OFFSETS.dir, SlruKind.MULTIXACT_MEMBERS.dir, SlruKind.COMMIT_TS.dir);

    /**
     * Files never carried over: basebackup.c's excludeFiles (temporary files, the relcache init
     * file pg_internal.init, backup_label, tablespace_map, backup_manifest, postmaster.pid and
     * .opts), global/pg_control (the backup writes its own, last), and standby.signal and
     * recovery.signal (they would put the new server into recovery, which has nothing to replay).
     */
    static final Set<String> EXCLUDED_FILES = Set.of("postgresql.auto.conf.tmp", "current_logfiles.tmp",
        "backup_label", "tablespace_map", "backup_manifest", "postmaster.pid", "postmaster.opts", "global/pg_control",
        "standby.signal", "recovery.signal");

    /** RELCACHE_INIT_FILENAME: rebuilt at first connection; basebackup.c skips it in every directory. */
    static final String RELCACHE_INIT_FILE = "pg_internal.init";
    /** PG_TEMP_FILES_DIR: temporary files of running queries. */
    static final String TEMP_FILES_DIR = "pgsql_tmp";

    private DataDirectoryLayout() {
    }

    /** True when {@code path} (a file, or a directory with a trailing slash) goes into a backup. */
    static boolean carriedOver(String path) {
        // "./": the data directory itself and paths under it as a primary's backup named
        // them, which stores imported before TarFiles normalized names may hold
        if (path.startsWith("./") || path.startsWith(WalStateFiles.PREFIX) || EXCLUDED_FILES.contains(path)) {
            return false;
        }
        for (String dir : EXCLUDED_DIR_CONTENTS) {
            if (path.startsWith(dir + "/") && path.length() > dir.length() + 1) {
                return false;
            }
        }
        String name = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        name = name.substring(name.lastIndexOf('/') + 1);
        return !name.equals(RELCACHE_INIT_FILE) && !path.contains(TEMP_FILES_DIR + "/") && !name.equals(TEMP_FILES_DIR);
    }
}
