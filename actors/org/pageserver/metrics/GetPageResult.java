package org.pageserver.metrics;

/**
 * The {@code result} label of {@code pageserver_getpage_requests_total}: how a GetPage was
 * answered. Errors are told apart by the message the page cache answers with (its wording is
 * the pagestream's contract with clients, README "The pagestream protocol"), so the page
 * cache's replies need no second channel for metrics.
 */
public enum GetPageResult {
    OK("ok"),
    /** LSN 0/0. */
    INVALID_LSN("invalid_lsn"),
    /** Below the consistent point of the initial backup. */
    BELOW_CONSISTENT_LSN("below_consistent_lsn"),
    /** Below the tenant's retention horizon: older versions may be gone. */
    BELOW_HORIZON("below_horizon"),
    /** The relation or the block does not exist at the LSN. */
    NOT_FOUND("not_found"),
    /** The WAL did not reach the LSN within wait-lsn-timeout. */
    WAL_TIMEOUT("wal_timeout"),
    /** The page could not be rebuilt (redo failed). */
    REDO_ERROR("redo_error"),
    /** The store could not be read. */
    STORAGE_ERROR("storage_error"),
    /** No answer in time (the tenant stopped). */
    TIMEOUT("timeout"),
    OTHER_ERROR("other_error");

    final String label;

    GetPageResult(String label) {
        this.label = label;
    }

    /** The kind of a page cache error message (PageCache.ReadFailed, RedoWorker). */
    public static GetPageResult ofError(String message) {
        if (message.startsWith("invalid LSN")) {
            return INVALID_LSN;
        }
        if (message.contains("is below the consistent point")) {
            return BELOW_CONSISTENT_LSN;
        }
        if (message.contains("is below the retention horizon")) {
            return BELOW_HORIZON;
        }
        if (message.contains("does not exist at")) {
            return NOT_FOUND;
        }
        if (message.contains("was not received within")) {
            return WAL_TIMEOUT;
        }
        if (message.startsWith("cannot reconstruct")) {
            return REDO_ERROR;
        }
        if (message.startsWith("storage read failed")) {
            return STORAGE_ERROR;
        }
        return OTHER_ERROR;
    }
}
