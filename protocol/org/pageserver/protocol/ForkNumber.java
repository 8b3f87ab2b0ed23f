package org.pageserver.protocol;

/** ForkNumber (common/relpath.h): the files a relation is made of. Numbers are on the wire. */
public enum ForkNumber {
    MAIN(0, ""), FSM(1, "_fsm"), VISIBILITYMAP(2, "_vm"), INIT(3, "_init");

    public static final int MAX_FORKNUM = 3;

    public final int number;
    /** Suffix of the relation file name ("16384_vm"). */
    public final String suffix;

    ForkNumber(int number, String suffix) {
        this.number = number;
        this.suffix = suffix;
    }

    public static ForkNumber of(int number) {
        if (number < 0 || number > MAX_FORKNUM) {
            throw new IllegalArgumentException("invalid fork number " + number);
        }
        return values()[number];
    }

    /** Fork of a relation file name suffix ("_vm" to VISIBILITYMAP, "" to MAIN). */
    public static ForkNumber ofSuffix(String suffix) {
        for (ForkNumber f : values()) {
            if (f.suffix.equals(suffix)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown fork suffix \"" + suffix + "\"");
    }
}
