package org.pageserver.protocol.pagestream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;

class PageStreamMessagesTest {
    static final RelTag REL = new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP);

    @Test
    void requestBytesAreExactlyTheDocumentedLayout() {
        byte[] getpage = new PageStreamRequest.GetPage(false, Lsn.parse("16/B374D848"), REL, 7).write();
        assertEquals("02" + "00" + "00000016b374d848" + "0000067f" + "00000005" + "00004000" + "02" + "00000007",
            HexFormat.of().formatHex(getpage));
        byte[] dbsize = new PageStreamRequest.DbSize(true, Lsn.parse("0/1"), 5).write();
        assertEquals("03" + "01" + "0000000000000001" + "00000005", HexFormat.of().formatHex(dbsize));
        assertEquals(23, new PageStreamRequest.Exists(true, Lsn.parse("0/1"), REL).write().length);
    }

    @Test
    void requestsRoundTrip() {
        PageStreamRequest[] all = {
            new PageStreamRequest.Exists(true, Lsn.parse("1/2"), REL),
            new PageStreamRequest.Nblocks(false, Lsn.parse("1/2"), REL),
            new PageStreamRequest.GetPage(true, Lsn.parse("FFFFFFFF/FFFFFFFF"), REL, -1),
            new PageStreamRequest.DbSize(false, Lsn.parse("0/10"), 16384)};
        for (PageStreamRequest r : all) {
            assertEquals(r, PageStreamRequest.parse(r.write()));
        }
    }

    @Test
    void responsesRoundTrip() {
        byte[] page = new byte[8192];
        new Random(1).nextBytes(page);
        assertArrayEquals(page, ((PageStreamResponse.Page) PageStreamResponse.parse(new PageStreamResponse.Page(page).write())).page());
        assertEquals(new PageStreamResponse.Exists(true), PageStreamResponse.parse(new PageStreamResponse.Exists(true).write()));
        assertEquals(new PageStreamResponse.Nblocks(-2), PageStreamResponse.parse(new PageStreamResponse.Nblocks(-2).write()));
        assertEquals(new PageStreamResponse.DbSize(1L << 40), PageStreamResponse.parse(new PageStreamResponse.DbSize(1L << 40).write()));
        assertEquals(new PageStreamResponse.Error("no such relation ✓"),
            PageStreamResponse.parse(new PageStreamResponse.Error("no such relation ✓").write()));
        byte[] err = new PageStreamResponse.Error("x").write();
        assertEquals(3, err.length);
        assertEquals(0, err[2]);
    }

    @Test
    void garbageRequestsGetAClearError() {
        byte[][] bad = {
            {},
            {2, 0, 0, 0},
            {9, 0, 0, 0, 0, 0, 0, 0, 0, 1},
            {0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
            new PageStreamRequest.GetPage(false, Lsn.parse("0/1"), REL, 1).write().clone(),
        };
        bad[4][22] = 9; // fork number 9
        for (byte[] b : bad) {
            PageStreamRequest.MalformedRequest e = assertThrows(PageStreamRequest.MalformedRequest.class,
                () -> PageStreamRequest.parse(b));
            assertTrue(e.getMessage().startsWith("pagestream") || e.getMessage().contains("fork")
                || e.getMessage().contains("truncated") || e.getMessage().contains("unknown"), e.getMessage());
        }
        byte[] extra = java.util.Arrays.copyOf(new PageStreamRequest.Exists(true, Lsn.parse("0/1"), REL).write(), 24);
        assertThrows(PageStreamRequest.MalformedRequest.class, () -> PageStreamRequest.parse(extra));
        Random rnd = new Random(42);
        for (int i = 0; i < 10000; i++) {
            byte[] b = new byte[rnd.nextInt(40)];
            rnd.nextBytes(b);
            try {
                PageStreamRequest.parse(b);
            } catch (PageStreamRequest.MalformedRequest expected) {
                // the only failure allowed
            }
        }
    }

    @Test
    void garbageResponsesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PageStreamResponse.parse(new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> PageStreamResponse.parse(new byte[] {102, 1, 2}));
        assertThrows(IllegalArgumentException.class, () -> PageStreamResponse.parse(new byte[] {103, 'x'}));
        assertThrows(IllegalArgumentException.class, () -> PageStreamResponse.parse(new byte[] {(byte) 200}));
    }
}
