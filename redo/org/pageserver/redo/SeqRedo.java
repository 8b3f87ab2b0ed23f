package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;

/**
 * Redo of RM_SEQ_ID (sequence.c seq_redo, PG15): XLOG_SEQ_LOG rewrites the sequence's only
 * page from scratch: a page with a 4-byte special space holding SEQ_MAGIC and the tuple that
 * follows xl_seq_rec (a RelFileNode, 12 bytes) in the main data.
 */
final class SeqRedo {
    static final int XLOG_SEQ_LOG = 0x00;
    static final int SEQ_MAGIC = 0x1717;
    static final int SIZE_OF_XL_SEQ_REC = 12;

    private SeqRedo() {
    }

    static void redo(WalRecord r, byte[] page) {
        if (r.rmgrInfo() != XLOG_SEQ_LOG) {
            throw new RedoException("unknown sequence record 0x" + Integer.toHexString(r.rmgrInfo()), r.startLsn());
        }
        byte[] m = r.mainData();
        WalRedo.need(r, m, SIZE_OF_XL_SEQ_REC + 1);
        Page.init(page, 4);
        Page.put32(page, Page.special(page), SEQ_MAGIC);
        int size = m.length - SIZE_OF_XL_SEQ_REC;
        if (Page.addItem(page, m, SIZE_OF_XL_SEQ_REC, size, Page.FIRST_OFFSET_NUMBER, 0) != Page.FIRST_OFFSET_NUMBER) {
            throw new RedoException("seq_redo: failed to add item to page", r.startLsn());
        }
    }
}
