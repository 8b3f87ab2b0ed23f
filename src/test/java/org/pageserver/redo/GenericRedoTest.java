package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;
import org.pageserver.redo.mask.BufMask;

/**
 * Generic WAL redo on real PG15 WAL (src/test/resources/redo/generic/make-fixture.sh: a bloom
 * index built, inserted into, deleted from and vacuumed, written with wal_consistency_checking
 * = 'generic'), and the refusal of malformed generic records.
 */
class GenericRedoTest {
    static final Path DIR = Path.of("src/test/resources/redo/generic");
    static WalFixture fixture;
    static List<WalRecord> generic;

    @BeforeAll
    static void load() throws IOException {
        fixture = WalFixture.load(DIR);
        generic = fixture.of(RmgrId.RM_GENERIC_ID);
    }

    @Test
    void replayEqualsEveryConsistencyImageAndTheListingCountsThem() throws IOException {
        ConsistencyChecker c = fixture.check();
        assertEquals(List.of(), c.mismatches);
        WalFixture.Listed listed = WalFixture.listed(DIR.resolve("generic-records.txt")).get("Generic");
        assertEquals(listed.records(), generic.size());
        // every image there for consistency checking (those of the delta blocks) compared with our redo
        assertEquals(listed.checkImages(), c.checked.get("Generic/0x0"));
        long fullImages = generic.stream().flatMap(r -> r.blocks().stream()).filter(b -> b.hasImage() && b.applyImage())
            .count();
        assertTrue(fullImages > 0, "some pages are logged whole (GENERIC_XLOG_FULL_IMAGE)");
    }

    static WalRecord withDelta(WalRecord r, int blockId, byte[] delta) {
        List<BlockRef> blocks = new ArrayList<>(r.blocks());
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).blockId() == blockId) {
                blocks.set(i, WalFixture.with(blocks.get(i), blocks.get(i).forkFlags(), delta));
            }
        }
        return WalFixture.with(r, r.info(), blocks, r.mainData());
    }

    static WalRecord aDelta() {
        return generic.stream().filter(r -> r.blocks().get(0).hasData() && !r.blocks().get(0).applyImage())
            .findFirst().orElseThrow();
    }

    static void refusedAlike(WalRecord r, String message) {
        assertEquals(message + " at " + r.startLsn(), assertThrows(RedoException.class, () -> GenericXlog.check(r))
            .getMessage());
        assertEquals(message + " at " + r.startLsn(), assertThrows(RedoException.class,
            () -> WalRedo.redoBlock(r, 0, new byte[Page.BLCKSZ])).getMessage());
    }

    @Test
    void aDeltaCutInsideAFragmentHeaderIsRefused() {
        WalRecord r = aDelta();
        byte[] d = r.blocks().get(0).data();
        int first = GenericXlog.FRAGMENT_HEADER_SIZE + Page.u16(d, 2);
        refusedAlike(withDelta(r, 0, Arrays.copyOf(d, first + 3)), "malformed Generic record: block 0 delta of "
            + (first + 3) + " bytes ends inside the header of fragment 2");
    }

    @Test
    void aDeltaCutInsideAFragmentIsRefused() {
        byte[] d = {0x20, 0, 10, 0, 1, 2, 3};
        refusedAlike(withDelta(aDelta(), 0, d),
            "malformed Generic record: block 0 delta of 7 bytes ends inside fragment 1 (10 bytes at offset 32)");
    }

    @Test
    void aFragmentPastThePageIsRefused() {
        byte[] d = new byte[4 + 16];
        Page.put16(d, 0, Page.BLCKSZ - 8);
        Page.put16(d, 2, 16);
        refusedAlike(withDelta(aDelta(), 0, d),
            "malformed Generic record: block 0 fragment 1 of 16 bytes at offset 8184 runs past the page");
    }

    @Test
    void blockIdsBeyondMaxGenericXlogPagesAndOtherTypesAreRefused() {
        WalRecord r = aDelta();
        BlockRef b = r.blocks().get(0);
        BlockRef four = new BlockRef(4, b.rel(), 9, b.forkFlags(), false, false, 0, 0, 0, null, b.data());
        WalRecord five = WalFixture.with(r, r.info(), List.of(b, four), r.mainData());
        assertEquals("malformed Generic record: block id 4, at most 3 at " + r.startLsn(),
            assertThrows(RedoException.class, () -> GenericXlog.check(five)).getMessage());
        WalRecord typed = WalFixture.with(r, 0x10 | r.info(), r.blocks(), r.mainData());
        assertEquals("unknown Generic record type (xl_info 0x" + Integer.toHexString(typed.info()) + ") at "
            + r.startLsn(), assertThrows(RedoException.class, () -> GenericXlog.check(typed)).getMessage());
    }

    @Test
    void anEmptyDeltaOnlyZeroesTheHole() {
        byte[] page = new byte[Page.BLCKSZ];
        Page.init(page, 8);
        Arrays.fill(page, 100, 200, (byte) 7);
        WalRecord r = withDelta(aDelta(), 0, null);
        GenericXlog.check(r);
        WalRedo.redoBlock(r, 0, page);
        byte[] expected = new byte[Page.BLCKSZ];
        Page.init(expected, 8);
        Page.setLsn(expected, r.endLsn().value());
        assertArrayEquals(expected, page);
    }

    @Test
    void aDeltaLeavingPdLowerAbovePdUpperIsARedoError() {
        byte[] d = new byte[4 + 4];
        Page.put16(d, 0, 12);
        Page.put16(d, 2, 4);
        Page.put16(d, 4, 4000); // pd_lower
        Page.put16(d, 6, 3000); // pd_upper
        byte[] page = new byte[Page.BLCKSZ];
        Page.init(page, 8);
        RedoException e = assertThrows(RedoException.class, () -> WalRedo.redoBlock(withDelta(aDelta(), 0, d), 0, page));
        assertTrue(e.getMessage().startsWith("Generic redo: page with pd_lower 4000 and pd_upper 3000"), e.getMessage());
    }

    /** Random deltas, types and pages: a RedoException or nothing, never another exception. */
    @Test
    void randomBytesGiveOnlyRedoExceptions() {
        Random rnd = new Random(23);
        for (int i = 0; i < 20_000; i++) {
            WalRecord real = generic.get(rnd.nextInt(generic.size()));
            List<BlockRef> blocks = new ArrayList<>();
            for (BlockRef b : real.blocks()) {
                byte[] d = new byte[rnd.nextInt(60)];
                rnd.nextBytes(d);
                // offsets and lengths mostly small, so that some deltas parse and are applied
                for (int at = 0; at + 4 <= d.length && rnd.nextBoolean(); at += 4 + (d[at + 2] & 0x0F)) {
                    Page.put16(d, at, rnd.nextInt(Page.BLCKSZ));
                    Page.put16(d, at + 2, d[at + 2] & 0x0F);
                }
                blocks.add(WalFixture.with(b, b.forkFlags(), rnd.nextInt(5) == 0 ? null : d));
            }
            int info = rnd.nextInt(8) == 0 ? rnd.nextInt(16) << 4 | real.info() : real.info();
            WalRecord r = WalFixture.with(real, info, blocks, real.mainData());
            onlyRedoException(() -> GenericXlog.check(r));
            for (BlockRef b : blocks) {
                byte[] page = new byte[Page.BLCKSZ];
                if (rnd.nextBoolean()) {
                    rnd.nextBytes(page);
                    Page.setLsn(page, 0);
                } else {
                    Page.init(page, 8);
                }
                onlyRedoException(() -> WalRedo.redoBlock(r, b.blockId(), page));
                try {
                    BufMask.mask(RmgrId.RM_GENERIC_ID, page, b.blkno());
                } catch (IllegalStateException e) {
                    assertTrue(e.getMessage().startsWith("invalid page pd_lower"), e.getMessage());
                }
            }
        }
    }

    static void onlyRedoException(Runnable action) {
        try {
            action.run();
        } catch (RedoException expected) {
            // a clear refusal
        }
    }
}
