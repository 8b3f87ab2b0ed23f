package org.pageserver.redo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.pageserver.fuzz.FuzzChecks;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.wal.BlockRef;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Fuzz target for the ingest check and the record parsers of every resource manager: a
 * {@link WalRecord} built directly (a valid record header: block ids in order, a real fork,
 * data flags that match the data; random resource manager, xl_info, block data and main
 * data), given to {@link RecordCheck#check} (which runs the index access methods' own parsers),
 * and, when it passes, to everything the ingest then reads off the record: its storage and
 * database effects, the SLRU pages it changes (and their redo on a zero page), the implicit
 * visibility-map blocks. Only {@link RedoException} with the record's LSN may escape.
 *
 * <p>Input, little-endian: rmid u8, xl_info u8, block count u8 (low 3 bits); per block:
 * block_id u8, fork_flags u8 (fork in the low nibble, BKPBLOCK_WILL_INIT kept), blkno u32,
 * image flags u8 (1 = has image, 2 = apply it), data length u16 and the data; the rest is the
 * main data. {@link #encode} writes a decoded record in this form (the corpus is real records).
 */
class RecordFuzzTest {

    static final Lsn LSN = new Lsn(0x1500028L);
    private static final byte[] ZERO_PAGE = new byte[8192];

    @FuzzTest(maxDuration = "60s")
    void check(byte[] input) throws Exception {
        WalRecord r = decode(input);
        if (r == null) {
            return;
        }
        FuzzChecks.boundedAllocation(input.length, () -> {
            try {
                RecordCheck.check(r);
                StorageEffects.of(r);
                DatabaseRecord.of(r);
                TablespaceRecord.of(r);
                SlruRedo.checkpointNextXid(r);
                SlruRedo.commitTsParameter(r);
                SlruRedo.truncations(r);
                for (SlruRedo.SlruPage p : SlruRedo.pages(r, true)) {
                    SlruRedo.redo(r, p.kind(), p.pageno(), ZERO_PAGE.clone());
                }
                WalRedo.implicitBlocks(r);
            } catch (RedoException e) {
                assertTrue(e.getMessage().endsWith(" at " + LSN), e.getMessage());
            }
        });
    }

    /**
     * The same records, past RecordCheck, redone on each of their blocks: first on a zero page
     * (what a relation extended by the record starts from), then again on the page that gave,
     * as a record replayed twice would be. Only RedoException may escape, and no input may loop.
     */
    @FuzzTest(maxDuration = "60s")
    void redo(byte[] input) throws Exception {
        WalRecord r = decode(input);
        if (r == null) {
            return;
        }
        FuzzChecks.boundedAllocation(input.length, () -> {
            try {
                RecordCheck.check(r);
            } catch (RedoException refused) {
                return;
            }
            if (!WalRedo.canRedo(r)) {
                return;
            }
            for (BlockRef b : r.blocks()) {
                byte[] page = ZERO_PAGE.clone();
                for (int round = 0; round < 2; round++) {
                    try {
                        WalRedo.redoBlock(r, b.blockId(), page);
                    } catch (RedoException e) {
                        assertTrue(e.getMessage().endsWith(" at " + LSN), e.getMessage());
                        break;
                    }
                }
            }
        });
    }

    /** The record an input stands for, or null when the input is not a valid record header. */
    static WalRecord decode(byte[] in) {
        if (in.length < 3) {
            return null;
        }
        int p = 3;
        int nblocks = in[2] & 0x07;
        List<BlockRef> blocks = new ArrayList<>();
        int lastId = -1;
        for (int i = 0; i < nblocks; i++) {
            if (p + 9 > in.length) {
                return null;
            }
            int id = in[p] & 0xFF;
            int forkFlags = in[p + 1] & (BlockRef.BKPBLOCK_FORK_MASK | BlockRef.BKPBLOCK_WILL_INIT);
            int blkno = (in[p + 2] & 0xFF) | (in[p + 3] & 0xFF) << 8 | (in[p + 4] & 0xFF) << 16 | (in[p + 5] & 0xFF) << 24;
            int img = in[p + 6] & 0x03;
            int len = (in[p + 7] & 0xFF) | (in[p + 8] & 0xFF) << 8;
            p += 9;
            int fork = forkFlags & BlockRef.BKPBLOCK_FORK_MASK;
            if (id <= lastId || id > WalRecord.XLR_MAX_BLOCK_ID || fork > ForkNumber.MAX_FORKNUM || p + len > in.length) {
                return null;
            }
            lastId = id;
            boolean hasImage = (img & 1) != 0;
            boolean apply = hasImage && (img & 2) != 0;
            if (hasImage) {
                forkFlags |= BlockRef.BKPBLOCK_HAS_IMAGE;
            }
            if (len > 0) {
                forkFlags |= BlockRef.BKPBLOCK_HAS_DATA;
            }
            blocks.add(new BlockRef(id, new RelTag(1663, 5, 16384, ForkNumber.of(fork)), blkno, forkFlags, hasImage,
                apply, apply ? BlockRef.BKPIMAGE_APPLY : 0, 0, 0, hasImage ? ZERO_PAGE : null,
                len > 0 ? Arrays.copyOfRange(in, p, p + len) : null));
            p += len;
        }
        byte[] main = Arrays.copyOfRange(in, p, in.length);
        return new WalRecord(LSN, new Lsn(LSN.value() + 8 * 1024), LSN.value() - 64, 1000, in[0] & 0xFF, in[1] & 0xFF,
            0, 0, List.copyOf(blocks), main, new byte[0]);
    }

    /** A decoded record in this target's input form. */
    static byte[] encode(WalRecord r) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(r.rmid());
        out.write(r.info());
        out.write(Math.min(r.blocks().size(), 7));
        for (BlockRef b : r.blocks().subList(0, Math.min(r.blocks().size(), 7))) {
            out.write(b.blockId());
            out.write(b.forkFlags());
            for (int s = 0; s < 32; s += 8) {
                out.write(b.blkno() >>> s);
            }
            out.write((b.hasImage() ? 1 : 0) | (b.applyImage() ? 2 : 0));
            byte[] d = b.data() == null ? new byte[0] : b.data();
            out.write(d.length);
            out.write(d.length >>> 8);
            out.writeBytes(d);
        }
        out.writeBytes(r.mainData());
        return out.toByteArray();
    }
}
