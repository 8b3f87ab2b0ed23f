package org.pageserver.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.pageserver.protocol.pgwire.FrontendMessage;

/**
 * Hostile clients of a pgwire port, all driven by one thread over non-blocking sockets: some
 * connect and send part of a startup packet and then nothing, some send their startup packet one
 * byte a second, some send random bytes (half of them from the first byte, half after a whole
 * StartupMessage). A client the server closes connects again, so the flood keeps its size until
 * {@link #close()}. Sources are spread over 127.0.0.2 to 127.0.0.9 so that the churn of
 * connections never runs out of ephemeral ports.
 */
final class ConnectionFlood implements AutoCloseable {

    enum Kind { IDLE, SLOW, RANDOM }

    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long SLOW_BYTE_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long RANDOM_CHUNK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    private static final byte[] TOO_MANY = "C53300\0".getBytes(StandardCharsets.US_ASCII);
    /** A startup packet a slow client never finishes in time: about 300 bytes at one a second. */
    private static final byte[] LONG_STARTUP = new FrontendMessage.StartupMessage(Map.of("user", "slow",
            "database", "postgres", "application_name", "x".repeat(256))).toBytes();
    private static final byte[] STARTUP = new FrontendMessage.StartupMessage(Map.of("user", "postgres",
            "database", "postgres")).toBytes();

    private final class Client {
        final Kind kind;
        final int index;
        SocketChannel channel;
        boolean connected;
        int sent;
        long nextSend;
        /** When a client the server closed connects again. */
        long reopenAt;

        Client(Kind kind, int index) {
            this.kind = kind;
            this.index = index;
        }
    }

    private final InetSocketAddress server;
    private final List<Client> clients = new ArrayList<>();
    private final Selector selector;
    private final Random random = new Random(13);
    private final ByteBuffer readBuffer = ByteBuffer.allocate(4096);
    private final Thread thread;
    private volatile boolean stopping;
    private volatile Throwable failure;
    /** Connections the flood opened, and the ones the server closed. */
    final AtomicLong connects = new AtomicLong();
    final AtomicLong closedByServer = new AtomicLong();
    /** ErrorResponses with SQLSTATE 53300 seen. */
    final AtomicLong tooManyConnections = new AtomicLong();

    ConnectionFlood(InetSocketAddress server, int idle, int slow, int random) throws IOException {
        this.server = server;
        this.selector = Selector.open();
        for (int i = 0; i < idle; i++) {
            clients.add(new Client(Kind.IDLE, clients.size()));
        }
        for (int i = 0; i < slow; i++) {
            clients.add(new Client(Kind.SLOW, clients.size()));
        }
        for (int i = 0; i < random; i++) {
            clients.add(new Client(Kind.RANDOM, clients.size()));
        }
        this.thread = new Thread(this::run, "connection-flood");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        try {
            long now = System.nanoTime();
            for (Client c : clients) {
                open(c, now);
            }
            while (!stopping) {
                long tick = System.nanoTime();
                selector.select(key -> onReady((Client) key.attachment(), key), 5);
                long t = System.nanoTime();
                for (Client c : clients) {
                    if (c.channel == null) {
                        if (t >= c.reopenAt) {
                            open(c, t);
                        }
                    } else if (c.connected && c.kind != Kind.IDLE && t >= c.nextSend) {
                        send(c, t);
                    }
                }
                long rest = TICK_NANOS - (System.nanoTime() - tick);
                if (rest > 0) {
                    TimeUnit.NANOSECONDS.sleep(rest);
                }
            }
        } catch (Throwable e) {
            failure = e;
        }
    }

    private void open(Client c, long now) throws IOException {
        SocketChannel ch = SocketChannel.open();
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        ch.bind(new InetSocketAddress("127.0.0." + (2 + c.index % 8), 0));
        c.channel = ch;
        c.connected = false;
        c.sent = 0;
        // spread the slow and random clients' sends over their period
        c.nextSend = now + (c.index * 7919L) % SLOW_BYTE_NANOS;
        connects.incrementAndGet();
        if (ch.connect(server)) {
            connected(c);
        } else {
            ch.register(selector, SelectionKey.OP_CONNECT, c);
        }
    }

    private void connected(Client c) throws IOException {
        c.connected = true;
        c.channel.register(selector, SelectionKey.OP_READ, c);
        if (c.kind == Kind.IDLE) {
            // the length and the protocol version, then nothing
            write(c, ByteBuffer.wrap(STARTUP, 0, 8));
        } else if (c.kind == Kind.RANDOM && c.index % 2 == 0) {
            write(c, ByteBuffer.wrap(STARTUP));
        }
    }

    private void onReady(Client c, SelectionKey key) {
        try {
            if (key.isConnectable()) {
                c.channel.finishConnect();
                connected(c);
                return;
            }
            readBuffer.clear();
            int n = c.channel.read(readBuffer);
            if (n < 0) {
                closed(c);
            } else if (contains(readBuffer.array(), n, TOO_MANY)) {
                tooManyConnections.incrementAndGet();
            }
        } catch (IOException e) {
            closed(c);
        }
    }

    private static boolean contains(byte[] b, int len, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= len; i++) {
            for (int j = 0; j < what.length; j++) {
                if (b[i + j] != what[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private void send(Client c, long now) {
        try {
            if (c.kind == Kind.SLOW) {
                if (c.sent < LONG_STARTUP.length) {
                    write(c, ByteBuffer.wrap(LONG_STARTUP, c.sent, 1));
                }
                c.nextSend += SLOW_BYTE_NANOS;
            } else {
                byte[] junk = new byte[1 + random.nextInt(512)];
                random.nextBytes(junk);
                write(c, ByteBuffer.wrap(junk));
                c.nextSend = now + RANDOM_CHUNK_NANOS;
            }
        } catch (IOException e) {
            closed(c);
        }
    }

    private void write(Client c, ByteBuffer b) throws IOException {
        c.sent += c.channel.write(b); // a full socket buffer takes nothing: the bytes are dropped
    }

    private void closed(Client c) {
        closedByServer.incrementAndGet();
        try {
            c.channel.close();
        } catch (IOException ignored) {
            // closing a dead socket
        }
        c.channel = null;
        c.reopenAt = System.nanoTime() + (c.kind == Kind.RANDOM ? RANDOM_CHUNK_NANOS : SLOW_BYTE_NANOS);
    }

    /** The flood's thread failed (it stops then). */
    Throwable failure() {
        return failure;
    }

    /** Stops the flood and closes every socket it has open. */
    @Override
    public void close() throws IOException, InterruptedException {
        stopping = true;
        thread.join(TimeUnit.SECONDS.toMillis(30));
        if (thread.isAlive()) {
            throw new IllegalStateException("the flood thread did not stop");
        }
        for (Client c : clients) {
            if (c.channel != null) {
                c.channel.close();
            }
        }
        selector.close();
    }
}
