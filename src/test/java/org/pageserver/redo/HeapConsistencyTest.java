package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.wal.WalDecoder;

/**
 * Heap redo against PostgreSQL's own oracle on committed WAL: segment 1B of the golden WAL
 * (src/test/resources/wal/README.md) was written with wal_consistency_checking = 'all'.
 * RedoConsistencyIT does the same on a much larger workload made at test time.
 */
class HeapConsistencyTest {
    static byte[] gunzip(String r) throws IOException {
        try (InputStream in = new GZIPInputStream(HeapConsistencyTest.class.getResourceAsStream(r))) {
            return in.readAllBytes();
        }
    }

    @Test
    void heapRecordsReplayToThePrimarysImages() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (String s : new String[] {"15", "16", "17", "18", "19", "1A", "1B"}) {
            all.write(gunzip("/wal/0000000100000000000000" + s + ".gz"));
        }
        byte[] wal = all.toByteArray();
        ConsistencyChecker c = new ConsistencyChecker();
        new WalDecoder(Lsn.parse("0/1500000"), 1 << 20).feed(wal, 0, wal.length, c::accept);
        assertEquals(java.util.List.of(), c.mismatches);
        assertTrue(c.total() >= 16, "checked " + c.checked);
    }

    @Test
    void malformedHeapRecordsAreRedoExceptionsWithTheirLsn() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(gunzip("/wal/000000010000000000000015.gz"));
        byte[] wal = all.toByteArray();
        java.util.List<org.pageserver.protocol.wal.WalRecord> heap = new java.util.ArrayList<>();
        new WalDecoder(Lsn.parse("0/1500000"), 1 << 20).feed(wal, 0, wal.length, r -> {
            if (r.rmid() == org.pageserver.protocol.wal.RmgrId.RM_HEAP_ID && !r.blocks().isEmpty()) {
                heap.add(r);
            }
        });
        assertTrue(heap.size() > 10);
        java.util.Random rnd = new java.util.Random(1);
        for (org.pageserver.protocol.wal.WalRecord r : heap) {
            // a page of garbage, or a truncated main data: never anything but a RedoException
            byte[] page = new byte[8192];
            rnd.nextBytes(page);
            Page.setLsn(page, 0);
            org.pageserver.protocol.wal.WalRecord cut = new org.pageserver.protocol.wal.WalRecord(r.startLsn(), r.endLsn(),
                r.prevLsn(), r.xid(), r.rmid(), r.info(), r.origin(), r.toplevelXid(), r.blocks(), new byte[1], r.raw());
            for (org.pageserver.protocol.wal.WalRecord x : new org.pageserver.protocol.wal.WalRecord[] {r, cut}) {
                try {
                    WalRedo.redoBlock(x, x.blocks().get(0).blockId(), page.clone());
                } catch (RedoException e) {
                    assertTrue(e.getMessage().endsWith(" at " + r.startLsn()), e.getMessage());
                }
            }
        }
    }
}
