package org.pageserver.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StandbyConfigTest {
    @Test
    void theConnectionStringNamesTheTenantAsPgBasebackupDoes() {
        assertEquals("host='ps.local' port=6400 user='postgres' options='-c system_id=7711' "
            + "application_name=pageserver_clone", StandbyConfig.primaryConninfo("ps.local", 6400, "postgres", null, "7711"));
    }

    @Test
    void aPasswordWithQuotesAndBackslashesIsEscapedForLibpq() {
        assertEquals("'it\\'s a \\\\ secret'", StandbyConfig.quote("it's a \\ secret"));
    }

    @Test
    void theSettingIsAppendedWithItsQuotesDoubledAndTheSignalWritten(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("postgresql.auto.conf"), "work_mem = '8MB'\n");
        StandbyConfig.write(dir, "host='h' options='-c system_id=1'");
        String conf = Files.readString(dir.resolve("postgresql.auto.conf"));
        assertTrue(conf.startsWith("work_mem = '8MB'\n"), conf);
        assertTrue(conf.endsWith("primary_conninfo = 'host=''h'' options=''-c system_id=1'''\n"), conf);
        assertTrue(Files.exists(dir.resolve("standby.signal")));
    }
}
