package org.pageserver.it;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A TCP proxy between a standby and a walsender that records what the walsender sends: every
 * XLogData message (dataStart, length, walEnd) of each connection, and its WAL bytes, written
 * at their LSN as offset in a sparse file per connection, to be compared with the primary's
 * segments. The standby must connect with sslmode=disable and gssencmode=disable, so that every
 * server message is a type byte and a length.
 */
final class WalCaptureProxy implements AutoCloseable {
    /** One XLogData message as sent on connection {@code connection} (numbered from 0). */
    record Sent(int connection, long dataStart, int length, long walEnd) {
        long dataEnd() {
            return dataStart + length;
        }
    }

    private final ServerSocket server;
    private final int target;
    private final Path dir;
    final List<Sent> sent = Collections.synchronizedList(new ArrayList<>());
    private final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
    private int connections;

    /** Listens on a free loopback port, forwarding to {@code target}; the WAL sent goes to files in {@code dir}. */
    WalCaptureProxy(int target, Path dir) throws IOException {
        this.target = target;
        this.dir = dir;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon(this::accept, "wal-capture-accept");
    }

    int port() {
        return server.getLocalPort();
    }

    /** The WAL sent on connection {@code id} in [from, from + len). */
    byte[] read(int id, long from, int len) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(stream(id).toFile(), "r")) {
            byte[] out = new byte[len];
            f.seek(from);
            f.readFully(out);
            return out;
        }
    }

    private Path stream(int id) {
        return dir.resolve("conn-" + id + ".wal");
    }

    private void accept() throws IOException {
        while (!server.isClosed()) {
            Socket client = server.accept();
            Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
            sockets.add(client);
            sockets.add(upstream);
            int id;
            synchronized (this) {
                id = connections++;
            }
            daemon(() -> pump(client.getInputStream(), upstream.getOutputStream()), "wal-capture-up-" + id);
            daemon(() -> capture(id, upstream.getInputStream(), client.getOutputStream()), "wal-capture-down-" + id);
        }
    }

    private interface IoRunnable {
        void run() throws IOException;
    }

    private static void daemon(IoRunnable r, String name) {
        Thread t = new Thread(() -> {
            try {
                r.run();
            } catch (IOException closed) {
                // the connection or the proxy ended
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }

    private static void pump(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[65536];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
            out.flush();
        }
        out.close();
    }

    /** Forwards the server's messages one by one, recording the XLogData ones. */
    private void capture(int id, InputStream raw, OutputStream out) throws IOException {
        DataInputStream in = new DataInputStream(raw);
        try (RandomAccessFile file = new RandomAccessFile(stream(id).toFile(), "rw")) {
            int type;
            while ((type = in.read()) >= 0) {
                int len = in.readInt();
                byte[] body = new byte[len - 4];
                in.readFully(body);
                if (type == 'd' && body.length > 25 && body[0] == 'w') {
                    ByteBuffer b = ByteBuffer.wrap(body, 1, 16);
                    long start = b.getLong();
                    long walEnd = b.getLong();
                    file.seek(start);
                    file.write(body, 25, body.length - 25);
                    sent.add(new Sent(id, start, body.length - 25, walEnd));
                }
                out.write(ByteBuffer.allocate(5).put((byte) type).putInt(len).array());
                out.write(body);
                out.flush();
            }
        }
        out.close();
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (sockets) {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
