package org.pageserver.protocol.replication;

import java.util.List;

import org.pageserver.protocol.Lsn;

/**
 * A command of PostgreSQL 15's replication protocol, as a walsender takes it in a simple Query
 * on a replication connection (repl_gram.y). {@link ReplicationCommandParser#parse} makes one
 * from the query text.
 */
public sealed interface ReplicationCommand {

    /** A generic option {@code name [value]} ("DefElem"): value null when none was given. */
    record Option(String name, String value) {
    }

    /** {@code IDENTIFY_SYSTEM}. */
    record IdentifySystem() implements ReplicationCommand {
    }

    /** {@code SHOW name}; a dotted name ({@code a.b}) is one name. */
    record Show(String name) implements ReplicationCommand {
    }

    /** {@code TIMELINE_HISTORY tli}, tli at least 1. */
    record TimelineHistory(long timeline) implements ReplicationCommand {
    }

    /** {@code BASE_BACKUP [ ( option [, ...] ) ]}, its options checked as parse_basebackup_options does. */
    record BaseBackup(BaseBackupOptions options) implements ReplicationCommand {
    }

    /**
     * {@code START_REPLICATION [SLOT slot] [PHYSICAL] X/X [TIMELINE tli]} (physical; timeline 0
     * when not given) or {@code START_REPLICATION SLOT slot LOGICAL X/X [ ( option [, ...] ) ]}.
     */
    record StartReplication(String slot, boolean logical, Lsn start, long timeline, List<Option> options)
        implements ReplicationCommand {
        public StartReplication {
            options = List.copyOf(options);
        }
    }

    /** {@code READ_REPLICATION_SLOT slot}. */
    record ReadReplicationSlot(String slot) implements ReplicationCommand {
    }

    /**
     * {@code CREATE_REPLICATION_SLOT slot [TEMPORARY] PHYSICAL|LOGICAL plugin [options]}, the
     * options in parentheses or in the legacy keyword form (RESERVE_WAL, EXPORT_SNAPSHOT, ...).
     */
    record CreateReplicationSlot(String slot, boolean temporary, boolean logical, String plugin, List<Option> options)
        implements ReplicationCommand {
        public CreateReplicationSlot {
            options = List.copyOf(options);
        }
    }

    /** {@code DROP_REPLICATION_SLOT slot [WAIT]}. */
    record DropReplicationSlot(String slot, boolean await) implements ReplicationCommand {
    }
}
