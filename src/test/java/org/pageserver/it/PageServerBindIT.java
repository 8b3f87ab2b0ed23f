package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pageserver embedded in a JVM (as every IT runs it) whose port is taken fails alone: its
 * start reports the failure and the JVM goes on. Before, the listener's failure called
 * System.exit and took the whole test fork down with it (CI, MountIT's restart on its port).
 */
class PageServerBindIT {
    @TempDir
    Path tmp;

    @Test
    void aTakenPortFailsTheStartWithoutEndingTheJvm() throws Exception {
        // bound, not listening: the port is taken, yet a connection to it is refused as to no server
        try (Socket taken = new Socket()) {
            taken.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            IOException e = assertThrows(IOException.class,
                () -> TestPageServer.start(tmp.resolve("ps"), taken.getLocalPort(), Map.of()));
            assertTrue(e.getMessage().contains("stopped before listening"), e.getMessage());
        }
    }
}
