package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.WalRecord;

/** btree_xlog_dedup on a page it cannot apply to. */
class BtreeDedupRedoTest {

    /**
     * Fuzzing found it (RecordFuzzTest#redo, on the real DEDUP record of the WAL fixtures): a
     * DEDUP record redone on a page without items threw NullPointerException; it is a
     * RedoException naming the record.
     */
    @Test
    void dedupOfAPageWithoutItemsIsARedoError() throws IOException {
        byte[] input;
        try (InputStream in = BtreeDedupRedoTest.class.getResourceAsStream(
            "/org/pageserver/redo/RecordFuzzTestInputs/redo/seed-rmgr11-info60")) {
            input = in.readAllBytes();
        }
        WalRecord dedup = RecordFuzzTest.decode(input);
        RecordCheck.check(dedup);
        RedoException e = assertThrows(RedoException.class, () -> WalRedo.redoBlock(dedup, 0, new byte[8192]));
        assertTrue(e.getMessage().startsWith("btree_xlog_dedup: the page has no items to deduplicate"), e.getMessage());
    }
}
