package org.pageserver.protocol;

/**
 * A PostgreSQL instance's database system identifier (ControlFileData.system_identifier):
 * set by initdb, kept by base backups and restores, so it tells tenants apart.
 * Unsigned 64-bit; printed in decimal as pg_controldata and IDENTIFY_SYSTEM print it.
 */
public record SystemId(long value) implements Comparable<SystemId> {

    public static SystemId parse(String text) {
        try {
            return new SystemId(Long.parseUnsignedLong(text.trim()));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("invalid system_id \"" + text + "\": expected an unsigned decimal number");
        }
    }

    @Override
    public int compareTo(SystemId o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return Long.toUnsignedString(value);
    }
}
