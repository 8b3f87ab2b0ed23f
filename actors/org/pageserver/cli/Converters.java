package org.pageserver.cli;

import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SlruKind;
import org.pageserver.protocol.SystemId;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Option values in PostgreSQL's notations; a bad one is a usage error naming what was expected. */
final class Converters {
    private Converters() {
    }

    /** An OID or block number: 0 to 4294967295. */
    static final class Oid implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return oid(s);
        }
    }

    static final class LsnValue implements ITypeConverter<Lsn> {
        @Override
        public Lsn convert(String s) {
            try {
                return Lsn.parse(s);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("\"" + s + "\" is not an LSN (X/Y in hex)");
            }
        }
    }

    static final class SystemIdValue implements ITypeConverter<SystemId> {
        @Override
        public SystemId convert(String s) {
            try {
                return SystemId.parse(s);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("\"" + s + "\" is not a system_id: " + e.getMessage());
            }
        }
    }

    /**
     * SPC/DB/REL[/FORK] with FORK main, fsm, vm or init (or 0..3); or an SLRU directory
     * (pg_xact, pg_multixact/offsets, pg_multixact/members, pg_commit_ts: the pseudo-relations
     * 0/0/1 to 0/0/4).
     */
    static final class Rel implements ITypeConverter<RelTag> {
        @Override
        public RelTag convert(String s) {
            for (SlruKind k : SlruKind.values()) {
                if (k.dir.equals(s)) {
                    return k.rel();
                }
            }
            String[] p = s.split("/");
            if (p.length < 3 || p.length > 4) {
                throw new TypeConversionException("--rel must be SPC/DB/REL[/FORK] or an SLRU directory, got \"" + s + "\"");
            }
            ForkNumber fork = ForkNumber.MAIN;
            if (p.length == 4) {
                fork = switch (p[3]) {
                    case "main", "0" -> ForkNumber.MAIN;
                    case "fsm", "1" -> ForkNumber.FSM;
                    case "vm", "2" -> ForkNumber.VISIBILITYMAP;
                    case "init", "3" -> ForkNumber.INIT;
                    default -> throw new TypeConversionException("unknown fork \"" + p[3] + "\" (main, fsm, vm, init)");
                };
            }
            return new RelTag(oid(p[0]), oid(p[1]), oid(p[2]), fork);
        }
    }

    static int oid(String s) {
        try {
            long v = Long.parseLong(s);
            if (v < 0 || v > 0xFFFFFFFFL) {
                throw new NumberFormatException();
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw new TypeConversionException("\"" + s + "\" is not an oid (0 to 4294967295)");
        }
    }
}
