package org.pageserver.redo;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.wal.RmgrId;
import org.pageserver.protocol.wal.WalRecord;

/**
 * Redo of SLRU pages, one page at a time: the transaction status bits of the commit log
 * (clog.c), MultiXact offsets and members (multixact.c) and commit timestamps (commit_ts.c),
 * as PostgreSQL 15's startup process sets them.
 *
 * <p>SLRU pages have no header and no LSN, so PostgreSQL's "skip if the page is newer" rule
 * cannot apply. It is not needed: every change is an idempotent store of a value determined by
 * the record alone, and a ZEROPAGE record wipes the page, after which the later records set
 * their entries again. Replaying every record from the backup's redo pointer onto the fuzzy
 * copied file, as PostgreSQL does, gives the primary's page at every LSN from the consistent
 * point on.
 *
 * <p>Transaction status and timestamps come from commits and aborts ({@link XactRecord}).
 */
public final class SlruRedo {
    /** CLOG_BITS_PER_XACT, CLOG_XACTS_PER_BYTE, CLOG_XACTS_PER_PAGE (clog.c). */
    public static final int CLOG_BITS_PER_XACT = 2;
    public static final int CLOG_XACTS_PER_BYTE = 4;
    public static final int CLOG_XACTS_PER_PAGE = 8192 * CLOG_XACTS_PER_BYTE;
    public static final int TRANSACTION_STATUS_COMMITTED = 0x01;
    public static final int TRANSACTION_STATUS_ABORTED = 0x02;

    /** MULTIXACT_OFFSETS_PER_PAGE: a MultiXactOffset (u32) per MultiXactId. */
    public static final int MULTIXACT_OFFSETS_PER_PAGE = 8192 / 4;
    /** Members come in groups of four xids preceded by their four flag bytes (multixact.c). */
    public static final int MULTIXACT_MEMBERS_PER_MEMBERGROUP = 4;
    public static final int MULTIXACT_FLAGBYTES_PER_GROUP = 4;
    public static final int MULTIXACT_MEMBERGROUP_SIZE = 4 * MULTIXACT_MEMBERS_PER_MEMBERGROUP + MULTIXACT_FLAGBYTES_PER_GROUP;
    public static final int MULTIXACT_MEMBERGROUPS_PER_PAGE = 8192 / MULTIXACT_MEMBERGROUP_SIZE;
    public static final int MULTIXACT_MEMBERS_PER_PAGE = MULTIXACT_MEMBERGROUPS_PER_PAGE * MULTIXACT_MEMBERS_PER_MEMBERGROUP;
    public static final int MXACT_MEMBER_BITS_PER_XACT = 8;

    /** SizeOfCommitTimestampEntry: TimestampTz then RepOriginId; COMMIT_TS_XACTS_PER_PAGE. */
    public static final int SIZE_OF_COMMIT_TIMESTAMP_ENTRY = 10;
    public static final int COMMIT_TS_XACTS_PER_PAGE = 8192 / SIZE_OF_COMMIT_TIMESTAMP_ENTRY;

    // record types (clog.h, multixact.h, commit_ts.h, xact.h, pg_control.h)
    static final int CLOG_ZEROPAGE = 0x00;
    static final int XLOG_MULTIXACT_ZERO_OFF_PAGE = 0x00;
    static final int XLOG_MULTIXACT_ZERO_MEM_PAGE = 0x10;
    static final int COMMIT_TS_ZEROPAGE = 0x00;

    static final int CLOG_TRUNCATE = 0x10;
    static final int XLOG_MULTIXACT_TRUNCATE_ID = 0x30;
    static final int COMMIT_TS_TRUNCATE = 0x10;

    private SlruRedo() {
    }

    /**
     * A front truncation of an SLRU: the primary removes every segment before the one holding
     * {@code cutoffPage} (SimpleLruTruncate, wraparound-aware).
     */
    public record Truncation(SlruKind kind, int cutoffPage) {
    }

    /**
     * The truncations a record makes: CLOG_TRUNCATE (xl_clog_truncate: pageno i32, oldestXact,
     * oldestXactDb), COMMIT_TS_TRUNCATE (xl_commit_ts_truncate: pageno i32, oldestXid) and
     * MULTIXACT_TRUNCATE_ID (xl_multixact_truncate: oldestMultiDB, startTruncOff, endTruncOff,
     * startTruncMemb, endTruncMemb, all u32: offsets before endTruncOff's page and members before
     * endTruncMemb's page go). They change no page; the pageserver keeps the pages before the cut.
     */
    public static List<Truncation> truncations(WalRecord r) {
        try {
            if (r.rmid() == RmgrId.RM_CLOG_ID && r.rmgrInfo() == CLOG_TRUNCATE) {
                return List.of(new Truncation(SlruKind.XACT, le(r).getInt()));
            }
            if (r.rmid() == RmgrId.RM_COMMIT_TS_ID && r.rmgrInfo() == COMMIT_TS_TRUNCATE) {
                return List.of(new Truncation(SlruKind.COMMIT_TS, le(r).getInt()));
            }
            if (r.rmid() == RmgrId.RM_MULTIXACT_ID && r.rmgrInfo() == XLOG_MULTIXACT_TRUNCATE_ID) {
                ByteBuffer b = le(r);
                b.position(8);
                int endTruncOff = b.getInt();
                b.getInt();
                int endTruncMemb = b.getInt();
                return List.of(new Truncation(SlruKind.MULTIXACT_OFFSETS, offsetsPage(endTruncOff)),
                    new Truncation(SlruKind.MULTIXACT_MEMBERS, membersPage(endTruncMemb)));
            }
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new RedoException(RmgrId.name(r.rmid()) + " record is malformed: " + e, r.startLsn());
        }
        return List.of();
    }

    /** One SLRU page a record changes; {@code zeroes}: the record wipes it (a new chain of the page). */
    public record SlruPage(SlruKind kind, int pageno, boolean zeroes) {
    }

    /** A commit or abort as the SLRUs see it. */

    /**
     * The SLRU pages {@code r} changes. Commit timestamps only while the commit_ts module is
     * active on the primary ({@code commitTsActive}: track_commit_timestamp, as
     * TransactionTreeSetCommitTsData checks it).
     *
     * @throws RedoException for malformed record data
     */
    public static List<SlruPage> pages(WalRecord r, boolean commitTsActive) {
        try {
            return switch (r.rmid()) {
                case RmgrId.RM_CLOG_ID -> r.rmgrInfo() == CLOG_ZEROPAGE
                    ? List.of(new SlruPage(SlruKind.XACT, le(r).getInt(), true)) : List.of();
                case RmgrId.RM_COMMIT_TS_ID -> r.rmgrInfo() == COMMIT_TS_ZEROPAGE
                    ? List.of(new SlruPage(SlruKind.COMMIT_TS, le(r).getInt(), true)) : List.of();
                case RmgrId.RM_MULTIXACT_ID -> multixactPages(r);
                case RmgrId.RM_XACT_ID -> xactPages(r, commitTsActive);
                default -> List.of();
            };
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new RedoException(RmgrId.name(r.rmid()) + " record is malformed: " + e, r.startLsn());
        }
    }

    static final int XLOG_CHECKPOINT_SHUTDOWN = 0x00;
    static final int XLOG_CHECKPOINT_ONLINE = 0x10;
    /** offsetof(CheckPoint, nextXid): a FullTransactionId (u64, the xid in its low 32 bits). */
    static final int CHECKPOINT_NEXT_XID = 24;

    /**
     * The next xid a checkpoint record carries (CheckPoint.nextXid, pg_control.h), or null for
     * any other record. After a restart the primary turns commit timestamps on
     * (ActivateCommitTs) at the next xid of its shutdown or end-of-recovery checkpoint, and
     * creates that xid's commit_ts page without WAL.
     */
    public static Integer checkpointNextXid(WalRecord r) {
        if (r.rmid() != RmgrId.RM_XLOG_ID || (r.rmgrInfo() != XLOG_CHECKPOINT_SHUTDOWN
            && r.rmgrInfo() != XLOG_CHECKPOINT_ONLINE) || r.mainData() == null
            || r.mainData().length < CHECKPOINT_NEXT_XID + 8) {
            return null;
        }
        return le(r).getInt(CHECKPOINT_NEXT_XID);
    }

    /**
     * The new track_commit_timestamp of an XLOG_PARAMETER_CHANGE record, or null for any other
     * record (CommitTsParameterChange follows it in redo).
     */
    public static Boolean commitTsParameter(WalRecord r) {
        org.pageserver.protocol.control.ControlFile.Parameters p = XlParameterChange.parse(r);
        return p == null ? null : p.trackCommitTimestamp();
    }

    private static List<SlruPage> multixactPages(WalRecord r) {
        ByteBuffer b = le(r);
        return switch (r.rmgrInfo()) {
            case XLOG_MULTIXACT_ZERO_OFF_PAGE -> List.of(new SlruPage(SlruKind.MULTIXACT_OFFSETS, b.getInt(), true));
            case XLOG_MULTIXACT_ZERO_MEM_PAGE -> List.of(new SlruPage(SlruKind.MULTIXACT_MEMBERS, b.getInt(), true));
            case XlMultiXactCreate.XLOG_MULTIXACT_CREATE_ID -> {
                XlMultiXactCreate c = XlMultiXactCreate.parse(r);
                Set<SlruPage> pages = new LinkedHashSet<>();
                pages.add(new SlruPage(SlruKind.MULTIXACT_OFFSETS, offsetsPage(c.mid()), false));
                pages.add(new SlruPage(SlruKind.MULTIXACT_OFFSETS, offsetsPage(nextMulti(c.mid())), false));
                for (int i = 0; i < c.xids().length; i++) {
                    pages.add(new SlruPage(SlruKind.MULTIXACT_MEMBERS, membersPage(c.moff() + i), false));
                }
                yield List.copyOf(pages);
            }
            default -> List.of();
        };
    }

    private static List<SlruPage> xactPages(WalRecord r, boolean commitTsActive) {
        XactRecord x = XactRecord.parse(r);
        if (x == null) {
            return List.of();
        }
        Set<SlruPage> pages = new LinkedHashSet<>();
        pages.add(new SlruPage(SlruKind.XACT, clogPage(x.xid()), false));
        for (int s : x.subxacts()) {
            pages.add(new SlruPage(SlruKind.XACT, clogPage(s), false));
        }
        if (x.commit() && commitTsActive) {
            pages.add(new SlruPage(SlruKind.COMMIT_TS, commitTsPage(x.xid()), false));
            for (int s : x.subxacts()) {
                pages.add(new SlruPage(SlruKind.COMMIT_TS, commitTsPage(s), false));
            }
        }
        return new ArrayList<>(pages);
    }

    /** Applies {@code r} to page {@code pageno} of {@code kind}, in place. */
    public static void redo(WalRecord r, SlruKind kind, int pageno, byte[] page) {
        try {
            switch (r.rmid()) {
                case RmgrId.RM_CLOG_ID, RmgrId.RM_COMMIT_TS_ID -> java.util.Arrays.fill(page, (byte) 0);
                case RmgrId.RM_MULTIXACT_ID -> redoMultixact(r, kind, pageno, page);
                case RmgrId.RM_XACT_ID -> redoXact(r, kind, pageno, page);
                case RmgrId.RM_XLOG_ID -> {
                    // track_commit_timestamp turned off: DeactivateCommitTs deletes every
                    // pg_commit_ts segment, so a page written again after ActivateCommitTs
                    // starts from zeros (the record is stored under each page as a chain start)
                    if (kind != SlruKind.COMMIT_TS || !Boolean.FALSE.equals(commitTsParameter(r))) {
                        throw new RedoException("no SLRU change in this XLOG record", r.startLsn());
                    }
                    java.util.Arrays.fill(page, (byte) 0);
                }
                default -> throw new RedoException("no SLRU change in " + RmgrId.name(r.rmid()) + " records", r.startLsn());
            }
        } catch (BufferUnderflowException | IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new RedoException(RmgrId.name(r.rmid()) + " record is malformed: " + e, r.startLsn());
        }
    }

    /**
     * Mirrors RecordNewMultiXact (multixact.c, PG15 as of the minor releases that set the next
     * multixid's offset too, 15.15 on) for one page, and the ZERO_*_PAGE records: the offsets
     * SLRU gets this multixid's first member offset and the next multixid's (this one's end,
     * never 0), the members SLRU each member's xid and its 8 status bits in the group's flags.
     */
    private static void redoMultixact(WalRecord r, SlruKind kind, int pageno, byte[] page) {
        switch (r.rmgrInfo()) {
            case XLOG_MULTIXACT_ZERO_OFF_PAGE, XLOG_MULTIXACT_ZERO_MEM_PAGE -> java.util.Arrays.fill(page, (byte) 0);
            case XlMultiXactCreate.XLOG_MULTIXACT_CREATE_ID -> {
                XlMultiXactCreate c = XlMultiXactCreate.parse(r);
                int mid = c.mid();
                int moff = c.moff();
                int n = c.xids().length;
                if (kind == SlruKind.MULTIXACT_OFFSETS) {
                    ByteBuffer p = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
                    if (offsetsPage(mid) == pageno) {
                        p.putInt(offsetsEntry(mid) * 4, moff);
                    }
                    int next = nextMulti(mid);
                    if (offsetsPage(next) == pageno) {
                        int nextOffset = c.endOffset();
                        p.putInt(offsetsEntry(next) * 4, nextOffset == 0 ? 1 : nextOffset);
                    }
                    return;
                }
                ByteBuffer p = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    int xid = c.xids()[i];
                    int status = c.statuses()[i];
                    int offset = moff + i; // MultiXactOffset arithmetic wraps at 2^32
                    if (membersPage(offset) != pageno) {
                        continue;
                    }
                    long off = Integer.toUnsignedLong(offset);
                    int group = (int) (off / MULTIXACT_MEMBERS_PER_MEMBERGROUP % MULTIXACT_MEMBERGROUPS_PER_PAGE);
                    int inGroup = (int) (off % MULTIXACT_MEMBERS_PER_MEMBERGROUP);
                    int flagsOff = group * MULTIXACT_MEMBERGROUP_SIZE;
                    int memberOff = flagsOff + MULTIXACT_FLAGBYTES_PER_GROUP + inGroup * 4;
                    int shift = inGroup * MXACT_MEMBER_BITS_PER_XACT;
                    p.putInt(memberOff, xid);
                    int flags = p.getInt(flagsOff);
                    flags &= ~(((1 << MXACT_MEMBER_BITS_PER_XACT) - 1) << shift);
                    flags |= status << shift;
                    p.putInt(flagsOff, flags);
                }
            }
            default -> throw new RedoException("no SLRU change in this MultiXact record", r.startLsn());
        }
    }

    /**
     * Mirrors TransactionIdSetPageStatus (clog.c) and SetXidCommitTsInPage (commit_ts.c) for
     * the transaction and subtransactions of a commit or abort that fall on this page.
     */
    private static void redoXact(WalRecord r, SlruKind kind, int pageno, byte[] page) {
        XactRecord x = XactRecord.parse(r);
        if (x == null) {
            throw new RedoException("no SLRU change in this Transaction record", r.startLsn());
        }
        int[] all = new int[x.subxacts().length + 1];
        all[0] = x.xid();
        System.arraycopy(x.subxacts(), 0, all, 1, x.subxacts().length);
        if (kind == SlruKind.XACT) {
            int status = x.commit() ? TRANSACTION_STATUS_COMMITTED : TRANSACTION_STATUS_ABORTED;
            for (int xid : all) {
                if (clogPage(xid) != pageno) {
                    continue;
                }
                long inPage = Integer.toUnsignedLong(xid) % CLOG_XACTS_PER_PAGE;
                int byteno = (int) (inPage / CLOG_XACTS_PER_BYTE);
                int shift = (int) (inPage % CLOG_XACTS_PER_BYTE) * CLOG_BITS_PER_XACT;
                page[byteno] = (byte) ((page[byteno] & ~(3 << shift)) | (status << shift));
            }
        } else if (kind == SlruKind.COMMIT_TS) {
            ByteBuffer p = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
            for (int xid : all) {
                if (commitTsPage(xid) != pageno) {
                    continue;
                }
                int entry = (int) (Integer.toUnsignedLong(xid) % COMMIT_TS_XACTS_PER_PAGE);
                p.putLong(entry * SIZE_OF_COMMIT_TIMESTAMP_ENTRY, x.time());
                p.putShort(entry * SIZE_OF_COMMIT_TIMESTAMP_ENTRY + 8, (short) r.origin());
            }
        }
    }



    /** TransactionIdToPage (clog.c). */
    public static int clogPage(int xid) {
        return (int) (Integer.toUnsignedLong(xid) / CLOG_XACTS_PER_PAGE);
    }

    /** TransactionIdToCTsPage (commit_ts.c). */
    public static int commitTsPage(int xid) {
        return (int) (Integer.toUnsignedLong(xid) / COMMIT_TS_XACTS_PER_PAGE);
    }

    /** MultiXactIdToOffsetPage (multixact.c). */
    public static int offsetsPage(int multi) {
        return (int) (Integer.toUnsignedLong(multi) / MULTIXACT_OFFSETS_PER_PAGE);
    }

    private static int offsetsEntry(int multi) {
        return (int) (Integer.toUnsignedLong(multi) % MULTIXACT_OFFSETS_PER_PAGE);
    }

    /** The multixid after {@code multi}, skipping InvalidMultiXactId (0) at wraparound. */
    static int nextMulti(int multi) {
        int next = multi + 1;
        return next == 0 ? 1 : next;
    }

    /** MXOffsetToMemberPage (multixact.c). */
    public static int membersPage(int offset) {
        return (int) (Integer.toUnsignedLong(offset) / MULTIXACT_MEMBERS_PER_PAGE);
    }

    private static ByteBuffer le(WalRecord r) {
        byte[] m = r.mainData() == null ? new byte[0] : r.mainData();
        return ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
    }
}
