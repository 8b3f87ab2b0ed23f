package org.pageserver.redo;

import org.pageserver.protocol.wal.WalRecord;

/**
 * What a WAL record stored under a page is to that page, which says how the page is rebuilt
 * from it: one of the record's registered blocks ({@link WalRedo#redoBlock}), a visibility map
 * page the record changes without registering it ({@link WalRedo#redoImplicit}), or an SLRU
 * page ({@link SlruRedo#redo}).
 *
 * <p>The store keeps it as one byte next to the record, and {@link #toByte} and
 * {@link #fromByte} are that encoding's only definition: a registered block's id (0 to
 * XLR_MAX_BLOCK_ID, 32; PostgreSQL's own ids), 254 an SLRU page, 255 an implicit visibility map
 * change. Stored data depends on these values: they never change.
 */
public sealed interface PageChange {
    /** The implicit visibility map change: a heap record's VM bit clear, or a VM truncation's last page. */
    PageChange IMPLICIT_VISIBILITY_MAP = new ImplicitVisibilityMap();
    /** A change of an SLRU page (SlruKind pseudo-relation). */
    PageChange SLRU_PAGE = new SlruPage();

    /** The byte the store keeps. */
    byte toByte();

    /**
     * @throws IllegalArgumentException for a byte no version of this server wrote
     */
    static PageChange fromByte(byte b) {
        int v = b & 0xFF;
        if (v == ImplicitVisibilityMap.CODE) {
            return IMPLICIT_VISIBILITY_MAP;
        }
        if (v == SlruPage.CODE) {
            return SLRU_PAGE;
        }
        return new RegisteredBlock(v);
    }

    /** The record's block reference with this id. */
    record RegisteredBlock(int blockId) implements PageChange {
        public RegisteredBlock {
            if (blockId < 0 || blockId > WalRecord.XLR_MAX_BLOCK_ID) {
                throw new IllegalArgumentException("no block id " + blockId + " (0 to " + WalRecord.XLR_MAX_BLOCK_ID + ")");
            }
        }

        @Override
        public byte toByte() {
            return (byte) blockId;
        }
    }

    /** See {@link #IMPLICIT_VISIBILITY_MAP}. */
    record ImplicitVisibilityMap() implements PageChange {
        private static final int CODE = 255;

        @Override
        public byte toByte() {
            return (byte) CODE;
        }
    }

    /** See {@link #SLRU_PAGE}. */
    record SlruPage() implements PageChange {
        private static final int CODE = 254;

        @Override
        public byte toByte() {
            return (byte) CODE;
        }
    }
}
