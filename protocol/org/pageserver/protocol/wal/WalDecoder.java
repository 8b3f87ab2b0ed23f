package org.pageserver.protocol.wal;

import java.util.function.Consumer;
import org.pageserver.protocol.Lsn;

/**
 * Decodes a WAL byte stream into records, the way XLogReadRecord / XLogDecodeNextRecord
 * (xlogreader.c, PG15) read WAL, but fed incrementally with whatever pieces the network gives:
 * page headers every XLOG_BLCKSZ bytes (long ones at segment starts), records spanning pages
 * and segments, MAXALIGN padding between records, and the rest of a segment skipped after an
 * XLOG_SWITCH record.
 *
 * <p>It starts either at a page boundary, where a page that begins with the tail of an earlier
 * record (XLP_FIRST_IS_CONTRECORD) has that tail skipped, or at a record boundary inside a page
 * (an EndRecPtr stored earlier). After a decoding error the decoder is poisoned: every later
 * call throws the same error. Not thread-safe.
 */
public final class WalDecoder {
    static final int XLOG_BLCKSZ = XLogPageHeader.XLOG_BLCKSZ;
    static final int MAXALIGN = 8;
    /** XLOG_SWITCH (pg_control.h): the rest of the segment is unused. */
    static final int XLOG_SWITCH = 0x40;
    /** What a record's buffer starts at: most records are smaller, bigger ones grow it by doubling. */
    static final int INITIAL_RECORD_BUFFER = 64 << 10;

    private enum State { PAGE_HEADER, SKIP_CONTRECORD, RECORD, PAD, SKIP_SEGMENT }

    private final int segSize;
    private long pos;
    private State state;
    /** The state to continue in once a page header is read. */
    private State afterHeader;
    private boolean first = true;

    private final byte[] hdr = new byte[XLogPageHeader.SIZE_OF_XLOG_LONG_PHD];
    private int hdrFill;
    private int hdrNeed;

    private long skipRemaining;

    /** Record being assembled: its first bytes go to head until xl_tot_len is known. */
    private final byte[] head = new byte[WalRecord.SIZE_OF_XLOG_RECORD];
    private int headFill;
    /**
     * The record's bytes so far. It grows with the bytes received, not to xl_tot_len at once:
     * a header may declare up to XLogRecordMaxSize (1020 MB) before a single byte of that
     * arrives, and a stream that then stops must not have cost that much memory.
     */
    private byte[] rec;
    /** xl_tot_len of the record being assembled. */
    private int recLen;
    private int recFill;
    private long recStart = -1;

    private long prevRecordStart = -1;
    private long lastRecordEnd;
    /** Start of an XLOG_SWITCH record whose segment is still being skipped, else -1. */
    private long switchStart = -1;
    private WalDecodeException poisoned;

    /**
     * @param startLsn   a page boundary or a record boundary
     * @param walSegSize wal_segment_size of the cluster (a power of two, 1 MB to 1 GB)
     */
    public WalDecoder(Lsn startLsn, int walSegSize) {
        if (walSegSize < XLOG_BLCKSZ || Integer.bitCount(walSegSize) != 1) {
            throw new IllegalArgumentException("invalid WAL segment size " + walSegSize);
        }
        if (startLsn.value() % MAXALIGN != 0) {
            throw new IllegalArgumentException("WAL decoding must start at an aligned position, not " + startLsn);
        }
        this.segSize = walSegSize;
        this.pos = startLsn.value();
        this.lastRecordEnd = pos;
        this.state = State.RECORD;
        // only a page start may begin with the tail of an earlier record
        this.first = pos % XLOG_BLCKSZ == 0;
    }

    /** Everything up to here was consumed: the last valid byte received. */
    public Lsn position() {
        return new Lsn(pos);
    }

    /** EndRecPtr of the last complete record, or the start position before the first one. */
    public Lsn lastRecordEnd() {
        return new Lsn(lastRecordEnd);
    }

    /**
     * Where decoding can safely be resumed: the last record's EndRecPtr, except while the
     * unused rest of a segment after an XLOG_SWITCH is being skipped (its EndRecPtr is the
     * next segment's start, not received yet): then the switch record's own start.
     */
    public Lsn resumeLsn() {
        return new Lsn(switchStart >= 0 ? switchStart : lastRecordEnd);
    }

    /** True while a record is partly received. */
    public boolean inRecord() {
        return headFill > 0;
    }

    public void feed(byte[] buf, int off, int len, Consumer<WalRecord> sink) {
        if (poisoned != null) {
            throw poisoned;
        }
        try {
            run(buf, off, len, sink);
        } catch (WalDecodeException e) {
            poisoned = e;
            throw e;
        }
    }

    private void run(byte[] buf, int off, int len, Consumer<WalRecord> sink) {
        int end = off + len;
        while (off < end) {
            if (pos % XLOG_BLCKSZ == 0 && state != State.PAGE_HEADER && state != State.SKIP_SEGMENT) {
                afterHeader = state;
                state = State.PAGE_HEADER;
                hdrFill = 0;
                hdrNeed = pos % segSize == 0 ? XLogPageHeader.SIZE_OF_XLOG_LONG_PHD : XLogPageHeader.SIZE_OF_XLOG_SHORT_PHD;
            }
            int avail = end - off;
            int pageLeft = (int) (XLOG_BLCKSZ - pos % XLOG_BLCKSZ);
            switch (state) {
                case PAGE_HEADER -> {
                    int n = Math.min(hdrNeed - hdrFill, avail);
                    System.arraycopy(buf, off, hdr, hdrFill, n);
                    hdrFill += n;
                    off += n;
                    pos += n;
                    if (hdrFill == hdrNeed) {
                        pageHeaderDone();
                    }
                }
                case SKIP_CONTRECORD -> {
                    int n = (int) Math.min(Math.min(skipRemaining, avail), pageLeft);
                    off += n;
                    pos += n;
                    skipRemaining -= n;
                    if (skipRemaining == 0) {
                        state = State.PAD;
                    }
                }
                case PAD -> {
                    int pad = (int) ((MAXALIGN - pos % MAXALIGN) % MAXALIGN);
                    int n = Math.min(pad, avail);
                    off += n;
                    pos += n;
                    if (pos % MAXALIGN == 0) {
                        state = State.RECORD;
                    }
                }
                case SKIP_SEGMENT -> {
                    int segLeft = (int) (segSize - pos % segSize);
                    int n = Math.min(segLeft, avail);
                    off += n;
                    pos += n;
                    if (pos % segSize == 0) {
                        state = State.RECORD;
                        switchStart = -1;
                    }
                }
                case RECORD -> {
                    int n = recordBytes(buf, off, Math.min(avail, pageLeft), sink);
                    off += n;
                }
            }
        }
    }

    /** Consumes record bytes within one page; returns how many. */
    private int recordBytes(byte[] buf, int off, int avail, Consumer<WalRecord> sink) {
        int used = 0;
        if (headFill == 0) {
            recStart = pos;
        }
        if (headFill < WalRecord.SIZE_OF_XLOG_RECORD) {
            int n = Math.min(WalRecord.SIZE_OF_XLOG_RECORD - headFill, avail);
            System.arraycopy(buf, off, head, headFill, n);
            headFill += n;
            used += n;
            pos += n;
            if (headFill >= 4 && headFill - n < 4) {
                checkTotLen();
            }
            if (headFill < WalRecord.SIZE_OF_XLOG_RECORD) {
                return used;
            }
            recLen = XLogPageHeader.i32(head, 0);
            rec = new byte[Math.min(recLen, INITIAL_RECORD_BUFFER)];
            System.arraycopy(head, 0, rec, 0, WalRecord.SIZE_OF_XLOG_RECORD);
            recFill = WalRecord.SIZE_OF_XLOG_RECORD;
            off += n;
            avail -= n;
        }
        int n = Math.min(recLen - recFill, avail);
        if (recFill + n > rec.length) {
            rec = java.util.Arrays.copyOf(rec, (int) Math.min(recLen, Math.max(2L * rec.length, recFill + n)));
        }
        System.arraycopy(buf, off, rec, recFill, n);
        recFill += n;
        used += n;
        pos += n;
        if (recFill == recLen) {
            finishRecord(sink);
        }
        return used;
    }

    private void checkTotLen() {
        int totLen = XLogPageHeader.i32(head, 0);
        if (totLen == 0 || Integer.compareUnsigned(totLen, WalRecord.SIZE_OF_XLOG_RECORD) < 0) {
            throw new WalDecodeException("invalid record length: wanted " + WalRecord.SIZE_OF_XLOG_RECORD + ", got "
                + Integer.toUnsignedString(totLen), new Lsn(recStart));
        }
        if (Integer.compareUnsigned(totLen, WalRecord.XLOG_RECORD_MAX_SIZE) > 0) {
            throw new WalDecodeException("record length " + Integer.toUnsignedString(totLen) + " too long",
                new Lsn(recStart));
        }
    }

    private void finishRecord(Consumer<WalRecord> sink) {
        long start = recStart;
        long endRecPtr = (pos + MAXALIGN - 1) & ~(long) (MAXALIGN - 1);
        byte[] raw = rec;
        rec = null;
        headFill = 0;
        recFill = 0;
        WalRecord r = WalRecord.decode(new Lsn(start), new Lsn(endRecPtr), raw);
        if (prevRecordStart >= 0 && r.prevLsn() != prevRecordStart) {
            throw new WalDecodeException("record with incorrect prev-link " + new Lsn(r.prevLsn()) + " (previous record at "
                + new Lsn(prevRecordStart) + ")", new Lsn(start));
        }
        prevRecordStart = start;
        lastRecordEnd = endRecPtr;
        first = false;
        if (r.rmid() == RmgrId.RM_XLOG_ID && (r.info() & WalRecord.XLR_RMGR_INFO_MASK) == XLOG_SWITCH) {
            // as XLogDecodeNextRecord: the record's end is the next segment's start
            state = State.SKIP_SEGMENT;
            if (pos % segSize == 0) {
                state = State.RECORD;
            } else {
                switchStart = start;
                lastRecordEnd = pos - pos % segSize + segSize;
            }
            r = new WalRecord(r.startLsn(), new Lsn(lastRecordEnd), r.prevLsn(), r.xid(), r.rmid(), r.info(), r.origin(),
                r.toplevelXid(), r.blocks(), r.mainData(), r.raw());
        } else {
            state = State.PAD;
            if (pos % MAXALIGN == 0) {
                state = State.RECORD;
            }
        }
        sink.accept(r);
    }

    private void pageHeaderDone() {
        long pageLsn = pos - hdrNeed;
        XLogPageHeader h = XLogPageHeader.parse(hdr, 0, hdrNeed, new Lsn(pageLsn), segSize);
        State next = afterHeader;
        if (headFill > 0) {
            // inside a record: this page must continue it
            long remaining = (rec != null ? recLen - recFill
                : Integer.toUnsignedLong(XLogPageHeader.i32(head, 0)) - headFill);
            if (h.isContRecord()) {
                if (Integer.toUnsignedLong(h.remLen()) != remaining) {
                    throw new WalDecodeException("invalid contrecord length " + Integer.toUnsignedString(h.remLen())
                        + " (expected " + remaining + ") in WAL page", new Lsn(pageLsn));
                }
            } else if (h.isOverwriteContRecord()) {
                // the record was never finished (XLOG_OVERWRITE_CONTRECORD follows): drop it
                headFill = 0;
                rec = null;
                recFill = 0;
                prevRecordStart = -1;
            } else {
                throw new WalDecodeException("there is no contrecord flag in the WAL page continuing the record at "
                    + new Lsn(recStart), new Lsn(pageLsn));
            }
        } else if (first && next == State.RECORD && h.isContRecord()) {
            // decoding starts on a page that begins with the tail of an earlier record
            skipRemaining = Integer.toUnsignedLong(h.remLen());
            next = skipRemaining > 0 ? State.SKIP_CONTRECORD : State.PAD;
        } else if (next == State.SKIP_CONTRECORD) {
            if (!h.isContRecord() || Integer.toUnsignedLong(h.remLen()) != skipRemaining) {
                throw new WalDecodeException("invalid contrecord in the WAL page continuing a skipped record",
                    new Lsn(pageLsn));
            }
        } else if (h.isContRecord() && next == State.RECORD) {
            throw new WalDecodeException("contrecord is requested by " + new Lsn(pageLsn) + " but no record is in progress",
                new Lsn(pageLsn));
        }
        first = false;
        state = next;
    }
}
