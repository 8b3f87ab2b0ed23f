package org.pageserver.streams.pgwire;

import org.pageserver.protocol.pgwire.PgType;

/**
 * A result column: name and type OID (see {@link PgType}). Values are always produced as text
 * (the type's output function format); the server converts them for clients that ask for
 * binary results in the extended protocol.
 */
public record Column(String name, int typeOid) {

    public Column {
        if (name == null) {
            throw new IllegalArgumentException("column name is null");
        }
    }

    public static Column text(String name) {
        return new Column(name, PgType.TEXT);
    }

    public static Column int8(String name) {
        return new Column(name, PgType.INT8);
    }

    public static Column int4(String name) {
        return new Column(name, PgType.INT4);
    }

    public static Column bool(String name) {
        return new Column(name, PgType.BOOL);
    }

    /** bytea; values in hex text format ("\x0102"). */
    public static Column bytea(String name) {
        return new Column(name, PgType.BYTEA);
    }

    public static Column pgLsn(String name) {
        return new Column(name, PgType.PG_LSN);
    }

    public short typeLen() {
        return PgType.typeLen(typeOid);
    }
}
