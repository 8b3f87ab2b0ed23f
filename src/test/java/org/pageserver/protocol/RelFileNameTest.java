package org.pageserver.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class RelFileNameTest {
    @Test
    void parsesEveryKindOfRelationPath() {
        assertEquals(new RelFileName(new RelTag(1663, 5, 16384, ForkNumber.MAIN), 0), RelFileName.parse("base/5/16384"));
        assertEquals(new RelFileName(new RelTag(1663, 5, 16384, ForkNumber.VISIBILITYMAP), 0),
            RelFileName.parse("base/5/16384_vm"));
        assertEquals(new RelFileName(new RelTag(1663, 5, 16384, ForkNumber.FSM), 3), RelFileName.parse("base/5/16384_fsm.3"));
        assertEquals(new RelFileName(new RelTag(1664, 0, 1262, ForkNumber.MAIN), 0), RelFileName.parse("global/1262"));
        assertEquals(new RelFileName(new RelTag(16400, 5, 16401, ForkNumber.INIT), 0),
            RelFileName.parse("pg_tblspc/16400/PG_15_202209061/5/16401_init"));
        assertEquals(new RelFileName(new RelTag(1663, 5, (int) 4294967295L, ForkNumber.MAIN), 1),
            RelFileName.parse("base/5/4294967295.1"));
        for (String r : new String[] {"base/5/16384", "base/5/16384_vm", "global/1262"}) {
            assertEquals(r, RelFileName.parse(r).rel().path());
        }
    }

    @Test
    void otherFilesAndGarbageAreNotRelations() {
        for (String p : new String[] {"global/pg_control", "base/5/PG_VERSION", "base/5/pg_filenode.map", "PG_VERSION",
            "pg_xact/0000", "base/5/t3_16384", "base/x/16384", "base/5/16384_xx", "base/5/16384.", "base/5/.1",
            "base/5/4294967296", "base/5/16384.1.2", "", "/", "base//1", "base/5/0", "pg_tblspc/1/PG_15/5/x"}) {
            assertNull(RelFileName.parse(p), p);
        }
    }
}
