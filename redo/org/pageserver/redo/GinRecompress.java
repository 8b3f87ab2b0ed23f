package org.pageserver.redo;

import org.pageserver.redo.GinXlog.GinxlogRecompressDataLeaf;
import org.pageserver.redo.GinXlog.GinxlogSegmentAction;

/**
 * Mirrors ginRedoRecompress (ginxlog.c, PG15): the segment actions of a data leaf insert or
 * vacuum applied to the compressed posting list segments of the page. Segments are rewritten
 * in place from the first one an action touches; as a rewritten segment may be longer than
 * the one it replaces, the unprocessed tail of the page is copied aside first and read from
 * there.
 */
final class GinRecompress {
    private GinRecompress() {
    }

    static void recompress(byte[] page, GinxlogRecompressDataLeaf data) {
        if ((GinPage.flags(page) & GinPage.GIN_COMPRESSED) == 0) {
            convertToCompressed(page);
        }
        int start = GinPage.DATA_OFFSET;
        int limit = Page.special(page);
        byte[] src = page; // where the old segments are read: the page, then its tail copy
        int oldseg = start;
        int segmentend = start + GinPage.postingListSize(page);
        if (segmentend < start || segmentend > limit) {
            throw new IllegalStateException("GIN data leaf page with pd_lower " + Page.lower(page));
        }
        boolean tailCopied = false;
        int writePtr = start;
        int segno = 0;
        for (GinxlogSegmentAction a : data.actions()) {
            int action = a.type();
            byte[] newseg = a.newSegment();
            // skip to the segment the action concerns; once the tail is copied aside, the
            // skipped segments are copied back into place
            while (segno < a.segno()) {
                int segsize = segmentSize(src, oldseg, segmentend);
                if (tailCopied) {
                    copy(src, oldseg, page, writePtr, segsize, limit);
                }
                writePtr += segsize;
                oldseg += segsize;
                segno++;
            }
            if (action == GinXlog.GIN_SEGMENT_ADDITEMS) {
                // handled like REPLACE with the old segment and the new items merged
                long[] olditems = GinPostingList.decode(src, oldseg, segmentend);
                long[] newitems = GinPostingList.merge(a.items(), olditems);
                newseg = GinPostingList.compress(newitems, newitems.length, Page.BLCKSZ);
                action = GinXlog.GIN_SEGMENT_REPLACE;
            }
            int segptr = oldseg;
            int segsize;
            if (segptr != segmentend) {
                segsize = segmentSize(src, oldseg, segmentend);
            } else {
                // after the last existing segment only an INSERT can come
                if (action != GinXlog.GIN_SEGMENT_INSERT) {
                    throw new IllegalStateException("GIN leaf action " + action + " on segment " + a.segno()
                        + " past the last one");
                }
                segsize = 0;
            }
            if (!tailCopied && segptr != segmentend) {
                src = java.util.Arrays.copyOfRange(page, segptr, segmentend);
                segmentend -= segptr;
                segptr = 0;
                tailCopied = true;
            }
            switch (action) {
                case GinXlog.GIN_SEGMENT_DELETE -> {
                    segptr += segsize;
                    segno++;
                }
                case GinXlog.GIN_SEGMENT_INSERT -> {
                    copy(newseg, 0, page, writePtr, newseg.length, limit);
                    writePtr += newseg.length;
                }
                case GinXlog.GIN_SEGMENT_REPLACE -> {
                    copy(newseg, 0, page, writePtr, newseg.length, limit);
                    writePtr += newseg.length;
                    segptr += segsize;
                    segno++;
                }
                default -> throw new IllegalStateException("unexpected GIN leaf action: " + action);
            }
            oldseg = segptr;
        }
        // the rest of the segments, unmodified
        if (oldseg != segmentend && tailCopied) {
            copy(src, oldseg, page, writePtr, segmentend - oldseg, limit);
            writePtr += segmentend - oldseg;
        }
        GinPage.setDataSize(page, writePtr - start);
    }

    private static int segmentSize(byte[] src, int seg, int segmentend) {
        if (seg + GinPostingList.HEADER > segmentend || seg + GinPostingList.sizeOf(src, seg) > segmentend) {
            throw new IllegalStateException("GIN posting list segment at " + seg + " runs past the posting list's end "
                + segmentend);
        }
        return GinPostingList.sizeOf(src, seg);
    }

    private static void copy(byte[] from, int fromOff, byte[] page, int to, int len, int limit) {
        if (to + len > limit) {
            throw new IllegalStateException("GIN posting list segments run into the special space (" + (to + len)
                + " > " + limit + ")");
        }
        System.arraycopy(from, fromOff, page, to, len);
    }

    /**
     * A page in the pre-9.4 format (an array of maxoff uncompressed item pointers) converted to
     * one compressed segment first, as ginRedoRecompress does.
     */
    static void convertToCompressed(byte[] page) {
        int nuncompressed = GinPage.maxoff(page);
        int totalsize = 0;
        if (nuncompressed > 0) {
            long[] items = new long[nuncompressed];
            for (int i = 0; i < nuncompressed; i++) {
                items[i] = GinPostingList.itemPointer(page, GinPage.DATA_OFFSET + 6 * i);
            }
            byte[] plist = GinPostingList.compress(items, nuncompressed, Page.BLCKSZ);
            totalsize = plist.length;
            copy(plist, 0, page, GinPage.DATA_OFFSET, totalsize, Page.special(page));
        }
        GinPage.setDataSize(page, totalsize);
        GinPage.setFlags(page, GinPage.flags(page) | GinPage.GIN_COMPRESSED);
        GinPage.setMaxoff(page, 0);
    }
}
