package org.pageserver.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pageserver.protocol.SystemId;

/** The commands added with detach and standby clones, and garbage in their place. */
class ServerCommandTest {
    @Test
    void detachKeepsOrDeletes() {
        assertEquals(new ServerCommand.Detach(SystemId.parse("7716598275836978816"), false),
            ServerCommand.parse("detach 7716598275836978816"));
        assertEquals(new ServerCommand.Detach(SystemId.parse("7716598275836978816"), true),
            ServerCommand.parse("detach 7716598275836978816 delete"));
    }

    @Test
    void pinNamesTheTenantAndTheLsn() {
        assertEquals(new ServerCommand.Pin(SystemId.parse("7716598275836978816"), org.pageserver.protocol.Lsn.parse(
            "0/3000028")), ServerCommand.parse("pin 7716598275836978816 0/3000028"));
    }

    @Test
    void basebackupStandbyIsAMinimalBackupOfAStandby() {
        ServerCommand c = ServerCommand.parse("basebackup 7716598275836978816 0/3000000 standby");
        assertTrue(c instanceof ServerCommand.BaseBackup b && b.standby() && b.minimal(), c.toString());
    }

    @Test
    void aMalformedLsnIsRefusedWithItsSqlState() {
        org.pageserver.backup.BaseBackupException e = assertThrows(org.pageserver.backup.BaseBackupException.class,
            () -> ServerCommand.parse("basebackup 7716598275836978816 zz standby"));
        assertTrue(e.getMessage().contains("invalid LSN \"zz\""), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"detach", "detach x", "detach 1 2 3", "detach 7716598275836978816 remove",
        "detach -1", "basebackup 7716598275836978816 0/3000000 standby minimal",
        "basebackup 7716598275836978816 0/3000000 clone", "pin", "pin 7716598275836978816",
        "pin 7716598275836978816 latest", "pin 7716598275836978816 0/1 0/2", "pin x 0/1"})
    void garbageIsASyntaxErrorNamingTheUsage(String query) {
        ServerCommand.SyntaxError e = assertThrows(ServerCommand.SyntaxError.class, () -> ServerCommand.parse(query));
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), query);
    }
}
