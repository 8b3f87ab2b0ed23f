package org.pageserver.protocol;

/**
 * A WAL position (XLogRecPtr, xlogdefs.h): a 64-bit byte offset into the WAL stream.
 *
 * <p>Printed the way PostgreSQL prints it, {@code %X/%X} of the high and low 32 bits
 * ("16/B374D848"). As a page version, a record's LSN is its END (exclusive): a page as of
 * L holds every record ending at or before L.
 */
public record Lsn(long value) implements Comparable<Lsn> {

    /** InvalidXLogRecPtr. */
    public static final Lsn INVALID = new Lsn(0);
    public static final Lsn MAX = new Lsn(-1L);

    public static Lsn of(long value) {
        return new Lsn(value);
    }

    /** Parses {@code "16/B374D848"}; rejects anything else with a clear message. */
    public static Lsn parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("LSN is null");
        }
        String s = text.trim();
        int slash = s.indexOf('/');
        if (slash <= 0 || slash == s.length() - 1 || slash > 8 || s.length() - slash - 1 > 8) {
            throw new IllegalArgumentException("invalid LSN \"" + text + "\": expected %X/%X such as 16/B374D848");
        }
        try {
            long hi = Long.parseLong(s.substring(0, slash), 16);
            long lo = Long.parseLong(s.substring(slash + 1), 16);
            return new Lsn((hi << 32) | lo);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid LSN \"" + text + "\": expected %X/%X such as 16/B374D848");
        }
    }

    public boolean isValid() {
        return value != 0;
    }

    public Lsn plus(long bytes) {
        return new Lsn(value + bytes);
    }

    /** Start of the WAL segment containing this LSN (XLByteToSeg * segSize). */
    public Lsn segmentStart(int segmentSize) {
        return new Lsn(value - Long.remainderUnsigned(value, segmentSize));
    }

    public long segmentNumber(int segmentSize) {
        return Long.divideUnsigned(value, segmentSize);
    }

    public boolean isAfter(Lsn other) {
        return Long.compareUnsigned(value, other.value) > 0;
    }

    public boolean isBefore(Lsn other) {
        return Long.compareUnsigned(value, other.value) < 0;
    }

    public static Lsn max(Lsn a, Lsn b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    public static Lsn min(Lsn a, Lsn b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public int compareTo(Lsn o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return String.format("%X/%X", value >>> 32, value & 0xFFFFFFFFL);
    }
}
