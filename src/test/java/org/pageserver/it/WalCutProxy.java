package org.pageserver.it;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import org.pageserver.protocol.Lsn;

/**
 * A TCP proxy between a WAL receiver and a primary that cuts the replication connection where
 * the test asks: it forwards the walsender's WAL up to a cut LSN exactly (the XLogData message
 * that holds it is split: its part up to the cut goes as an XLogData of its own), then closes
 * both sides (the receiver's with a FIN, after which it reads the WAL up to the cut and then
 * the end of the stream). Each connection is cut at the next LSN of the queue; once the queue is empty,
 * everything passes. It can also hold the WAL at an LSN (forwarding nothing past it until
 * released), so that cut points can be chosen in WAL the receiver has not been sent yet. The
 * receiver must connect without SSL or GSS encryption, so that every server message is a type
 * byte and a length.
 */
final class WalCutProxy implements AutoCloseable {
    /** A connection closed after its WAL reached {@code lsn}, the WAL it forwarded starting at {@code from}. */
    record Cut(int connection, Lsn from, Lsn lsn) {
    }

    private final ServerSocket server;
    private final int target;
    private final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
    /** Guarded by this. */
    private final Deque<Long> cutAt = new ArrayDeque<>();
    /** Guarded by this; where forwarding stops until released, -1 for nowhere. */
    private long holdAt = -1;
    /** Guarded by this; the WAL forwarded by the newest connection ends here. */
    private long forwarded = -1;
    private final List<Cut> cuts = Collections.synchronizedList(new ArrayList<>());
    private final List<String> missed = Collections.synchronizedList(new ArrayList<>());
    private int connections;

    /** Listens on a free loopback port, forwarding to {@code target}. */
    WalCutProxy(int target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon(this::accept, "wal-cut-accept");
    }

    int port() {
        return server.getLocalPort();
    }

    /**
     * Forwards no WAL at or past {@code lsn} until {@link #release}; when the WAL forwarded is
     * already past it (the receiver follows a live primary, and got there between the caller's
     * reading of {@code lsn} and this call), no WAL past what was forwarded. Returns the LSN held at.
     */
    synchronized Lsn hold(Lsn lsn) {
        holdAt = Math.max(lsn.value(), forwarded);
        notifyAll();
        return new Lsn(holdAt);
    }

    /** Waits until the WAL forwarded reached the hold LSN. */
    synchronized void awaitHeld(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (forwarded != holdAt) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("the WAL forwarded reached " + new Lsn(forwarded) + ", not the hold at "
                    + new Lsn(holdAt));
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** Cuts the connections at these LSNs, one each, in increasing order, and lets the WAL pass up to them. */
    synchronized void release(List<Lsn> cutLsns) {
        for (Lsn l : cutLsns) {
            cutAt.add(l.value());
        }
        holdAt = -1;
        notifyAll();
    }

    /** The cuts made so far. */
    List<Cut> cuts() {
        synchronized (cuts) {
            return List.copyOf(cuts);
        }
    }

    /** Connections whose WAL started past the next cut LSN, which then could not be cut there. */
    List<String> missed() {
        synchronized (missed) {
            return List.copyOf(missed);
        }
    }

    /** Connections accepted so far. */
    synchronized int connections() {
        return connections;
    }

    private void accept() throws IOException {
        while (!server.isClosed()) {
            Socket client = server.accept();
            Socket upstream;
            try {
                upstream = new Socket(InetAddress.getLoopbackAddress(), target);
            } catch (IOException primaryDown) {
                // as the primary would refuse it: the receiver tries again
                client.close();
                continue;
            }
            sockets.add(client);
            sockets.add(upstream);
            int id;
            synchronized (this) {
                id = connections++;
            }
            daemon(() -> drainUp(client, upstream), "wal-cut-up-" + id);
            daemon(() -> {
                try {
                    forward(id, upstream.getInputStream(), client.getOutputStream(), client, upstream);
                } catch (IOException reset) {
                    // the primary's side reset (a walsender killed with unread data) or closed by
                    // the proxy: so is the receiver's
                    client.close();
                    throw reset;
                }
            }, "wal-cut-down-" + id);
        }
    }

    private interface IoRunnable {
        void run() throws IOException, InterruptedException;
    }

    private static void daemon(IoRunnable r, String name) {
        Thread t = new Thread(() -> {
            try {
                r.run();
            } catch (IOException | InterruptedException closed) {
                // the connection or the proxy ended
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }

    /**
     * Forwards the receiver's messages to the primary until the receiver closes its side; after
     * a cut, reads and drops them: a socket closed with unread data in it sends a reset, which
     * can make the receiver's kernel drop the WAL it had not read yet.
     */
    private static void drainUp(Socket client, Socket upstream) throws IOException {
        InputStream in = client.getInputStream();
        OutputStream out = upstream.getOutputStream();
        byte[] buf = new byte[65536];
        boolean cut = false;
        int n;
        while ((n = in.read(buf)) > 0) {
            if (!cut) {
                try {
                    out.write(buf, 0, n);
                    out.flush();
                } catch (IOException upstreamClosed) {
                    cut = true;
                }
            }
        }
        upstream.close();
        client.close();
    }

    /** Forwards the server's messages one by one, the XLogData ones in pieces that end at the hold or the cut. */
    private void forward(int id, InputStream raw, OutputStream out, Socket client, Socket upstream)
        throws IOException, InterruptedException {
        DataInputStream in = new DataInputStream(raw);
        long from = -1;
        int type;
        while ((type = in.read()) >= 0) {
            int len = in.readInt();
            byte[] body = new byte[len - 4];
            in.readFully(body);
            if (type != 'd' || body.length < 25 || body[0] != 'w') {
                send(out, type, body, 0, body.length);
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(body, 1, 24);
            long start = b.getLong();
            long walEnd = b.getLong();
            long sendTime = b.getLong();
            if (from < 0) {
                from = start;
                synchronized (this) {
                    forwarded = start;
                    if (!cutAt.isEmpty() && cutAt.peek() < start) {
                        missed.add("connection " + id + " starts at " + new Lsn(start) + ", past the cut at "
                            + new Lsn(cutAt.poll()));
                    }
                }
            }
            long pos = start;
            long end = start + body.length - 25;
            while (true) {
                long stop;
                synchronized (this) {
                    while (holdAt == pos) {
                        wait();
                    }
                    if (!cutAt.isEmpty() && cutAt.peek() == pos) {
                        cutAt.poll();
                        cuts.add(new Cut(id, new Lsn(from), new Lsn(pos)));
                        // the receiver reads up to the cut, then the end of the stream
                        upstream.close();
                        client.shutdownOutput();
                        return;
                    }
                    if (pos == end) {
                        break;
                    }
                    stop = end;
                    if (holdAt > pos) {
                        stop = Math.min(stop, holdAt);
                    }
                    if (!cutAt.isEmpty() && cutAt.peek() > pos) {
                        stop = Math.min(stop, cutAt.peek());
                    }
                }
                byte[] piece = ByteBuffer.allocate(25 + (int) (stop - pos)).put((byte) 'w').putLong(pos).putLong(walEnd)
                    .putLong(sendTime).put(body, 25 + (int) (pos - start), (int) (stop - pos)).array();
                send(out, type, piece, 0, piece.length);
                pos = stop;
                synchronized (this) {
                    forwarded = pos;
                    notifyAll();
                }
            }
        }
        out.close();
    }

    private static void send(OutputStream out, int type, byte[] body, int off, int len) throws IOException {
        out.write(ByteBuffer.allocate(5).put((byte) type).putInt(len + 4).array());
        out.write(body, off, len);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
        synchronized (this) {
            holdAt = -1;
            notifyAll();
        }
    }
}
