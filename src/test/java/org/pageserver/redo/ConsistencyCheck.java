package org.pageserver.redo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.pageserver.protocol.Lsn;

/** The result of running the {@link ConsistencyChecker} over a pg_wal directory (for ITs in other packages). */
public record ConsistencyCheck(Map<String, Integer> checked, List<String> mismatches, Map<String, Integer> unsupported,
                               Map<String, Integer> records, Map<String, Integer> recordTypes, Map<String, Integer> parts) {
    public static ConsistencyCheck run(Path pgWal, Lsn segmentStart, int segSize) throws IOException {
        ConsistencyChecker c = new ConsistencyChecker();
        ConsistencyChecker.decodeDirectory(pgWal, segmentStart, segSize, c::accept);
        return new ConsistencyCheck(c.checked, List.copyOf(c.mismatches), c.unsupported, c.records, c.recordTypes,
            c.parts);
    }

    /** Images compared, summed per resource manager ("Heap/0x10" counts for "Heap"). */
    public Map<String, Integer> checkedPerRmgr() {
        Map<String, Integer> out = new java.util.TreeMap<>();
        checked.forEach((type, n) -> out.merge(type.substring(0, type.indexOf('/')), n, Integer::sum));
        return out;
    }
}
