package org.pageserver.redo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.pageserver.protocol.Lsn;

/** The result of running the {@link ConsistencyChecker} over a pg_wal directory (for ITs in other packages). */
public record ConsistencyCheck(Map<String, Integer> checked, List<String> mismatches, Map<String, Integer> unsupported) {
    public static ConsistencyCheck run(Path pgWal, Lsn segmentStart, int segSize) throws IOException {
        ConsistencyChecker c = new ConsistencyChecker();
        ConsistencyChecker.decodeDirectory(pgWal, segmentStart, segSize, c::accept);
        return new ConsistencyCheck(c.checked, List.copyOf(c.mismatches), c.unsupported);
    }
}
