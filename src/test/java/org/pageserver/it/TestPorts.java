package org.pageserver.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for the servers a test starts (PostgreSQL, pageservers, proxies), each given out once
 * per machine while the JVM that took it lives.
 *
 * <p>Why not an ephemeral port from {@code bind(0)}: a test that restarts a server on the port
 * its clients know (MountIT, CrashIT) must find it free again, but in between the kernel may
 * hand that port to any outgoing connection (ephemeral ports are {@code
 * ip_local_port_range}, 32768-60999 by default), or to another test JVM asking for a free
 * port. CI saw it: a pageserver restarted on its old port failed to bind and took the test JVM
 * down. So the ports come from below the ephemeral range, and each is reserved across processes
 * by an exclusive lock on a file named after it, which the operating system releases when the
 * JVM holding it ends (also on kill -9). A port some other program listens on is skipped.
 */
public final class TestPorts {
    private static final int FIRST = 15000;
    private static final int LAST = 32000;
    private static final Path LOCKS = Path.of(System.getProperty("java.io.tmpdir"), "pageserver-test-ports");
    /** Held open for the JVM's life: closing a channel releases its lock. */
    private static final List<FileChannel> HELD = new ArrayList<>();
    private static int next = FIRST + ThreadLocalRandom.current().nextInt(LAST - FIRST);

    private TestPorts() {
    }

    /** A port no other test JVM on this machine holds and nothing listens on, reserved for this JVM. */
    public static synchronized int take() throws IOException {
        Files.createDirectories(LOCKS);
        for (int tried = 0; tried < LAST - FIRST; tried++) {
            int port = next;
            next = next + 1 >= LAST ? FIRST : next + 1;
            FileChannel ch = FileChannel.open(LOCKS.resolve(port + ".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
            FileLock lock = ch.tryLock();
            if (lock == null) {
                ch.close();
                continue;
            }
            // ours from now on, usable or not: a port someone else listens on stays skipped
            HELD.add(ch);
            if (bindable(port)) {
                return port;
            }
        }
        throw new IOException("no free test port in " + FIRST + ".." + LAST);
    }

    private static boolean bindable(int port) {
        try (ServerSocket any = new ServerSocket()) {
            any.bind(new InetSocketAddress((InetAddress) null, port));
        } catch (IOException e) {
            return false;
        }
        try (ServerSocket loopback = new ServerSocket()) {
            loopback.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
