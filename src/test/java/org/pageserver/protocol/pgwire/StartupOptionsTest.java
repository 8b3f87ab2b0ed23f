package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.StartupOptions.Replication;

class StartupOptionsTest {

    @Test
    void replicationParameterAsPostgresTakesIt() {
        assertEquals(Replication.NONE, StartupOptions.replication(null));
        assertEquals(Replication.DATABASE, StartupOptions.replication("database"));
        for (String yes : new String[] {"true", "TRUE", "t", "on", "yes", "y", "1"}) {
            assertEquals(Replication.PHYSICAL, StartupOptions.replication(yes), yes);
        }
        for (String no : new String[] {"false", "f", "off", "of", "no", "n", "0"}) {
            assertEquals(Replication.NONE, StartupOptions.replication(no), no);
        }
        for (String bad : new String[] {"Database", "o", "2", "", "truee", " true"}) {
            PgProtocolException e = assertThrows(PgProtocolException.class, () -> StartupOptions.replication(bad), bad);
            assertEquals("22023", e.sqlState());
            assertEquals("invalid value for parameter \"replication\": \"" + bad
                + "\" (valid values are: \"false\", 0, \"true\", 1, \"database\")", e.getMessage());
        }
        assertNull(StartupOptions.parseBool("maybe"));
    }

    @Test
    void optionsAreSplitAndReadAsSwitches() {
        assertEquals(Map.of("system_id", "7300000000000000001", "lsn", "0/3000000"),
            StartupOptions.settings("-c system_id=7300000000000000001 -clsn=0/3000000"));
        assertEquals(Map.of("search_path", "a b", "work_mem", "4MB"),
            StartupOptions.settings("  --search-path=a\\ b\t--work_mem=4MB "));
        assertEquals(Map.of("x", "2"), StartupOptions.settings("-c x=1 -c x=2"));
        assertEquals(Map.of(), StartupOptions.settings(null));
        assertEquals(Map.of(), StartupOptions.settings("   "));
        assertEquals(List.of("a\\b", "c"), StartupOptions.split("a\\\\b c"));
    }

    @Test
    void badOptionsAreRefusedWithTheWordNamed() {
        String[][] cases = {
            {"-c system_id", "42601", "-c system_id requires a value"},
            {"--lsn", "42601", "--lsn requires a value"},
            {"-c", "42601", "option requires an argument -- 'c'"},
            {"-B 100", "22023", "invalid command-line argument for server process: -B"
                + " (the pageserver takes only -c name=value and --name=value)"},
            {"system_id=1", "22023", "invalid command-line argument for server process: system_id=1"
                + " (the pageserver takes only -c name=value and --name=value)"},
        };
        for (String[] k : cases) {
            PgProtocolException e = assertThrows(PgProtocolException.class, () -> StartupOptions.settings(k[0]), k[0]);
            assertEquals(k[1], e.sqlState(), k[0]);
            assertEquals(k[2], e.getMessage(), k[0]);
        }
    }
}
