package org.pageserver.streams.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The transport alone, with plain sockets as clients and small flows as protocols: bytes both
 * ways in order, closing from either side, and backpressure in both directions (a client that
 * does not read, a protocol that does not take input) bounded by the socket buffers.
 */
class NioTcpServerTest {

    static final ActorTestKit testKit = ActorTestKit.create();
    static final Materializer mat = Materializer.matFromSystem(testKit.system());

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    /** A server that runs a fresh {@code protocol} for every connection. */
    static NioTcpServer serve(Supplier<Flow<ByteString, ByteString, ?>> protocol) throws Exception {
        return NioTcpServer.bind("127.0.0.1", 0, TcpSettings.DEFAULTS,
            c -> c.handleWith(protocol.get(), mat, Attributes.none())).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static Socket connect(NioTcpServer s) throws IOException {
        Socket sock = new Socket();
        sock.connect(s.localAddress(), 5000);
        sock.setSoTimeout(10_000);
        return sock;
    }

    @Test
    void echoesAMegabyteInOrderWhateverTheWriteSizes() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class));
        try (Socket sock = connect(s)) {
            byte[] data = new byte[1 << 20];
            new Random(1).nextBytes(data);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = sock.getOutputStream();
                    Random r = new Random(2);
                    for (int off = 0; off < data.length; ) {
                        int n = Math.min(data.length - off, 1 + r.nextInt(20_000));
                        out.write(data, off, n);
                        off += n;
                    }
                    out.flush();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] back = new byte[data.length];
            new DataInputStream(sock.getInputStream()).readFully(back);
            writer.get(10, TimeUnit.SECONDS);
            assertArrayEquals(data, back);
        } finally {
            s.unbind();
        }
    }

    @Test
    void theSelectorPollsOnlyBrieflyAfterTrafficThenSleeps() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class));
        try (Socket sock = connect(s)) {
            sock.getOutputStream().write(5);
            assertEquals(5, sock.getInputStream().read());
            Thread selector = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("pgwire-selector-" + s.localAddress().getPort()))
                .findFirst().orElseThrow();
            Thread.sleep(200); // well past the idle spin
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long before = mx.getThreadCpuTime(selector.getId());
            Thread.sleep(500);
            long used = mx.getThreadCpuTime(selector.getId()) - before;
            assertTrue(used < TimeUnit.MILLISECONDS.toNanos(5), "an idle selector used " + used + " ns of CPU in 500 ms");
            // and wakes for the next request
            sock.getOutputStream().write(6);
            assertEquals(6, sock.getInputStream().read());
        } finally {
            s.unbind();
        }
    }

    @Test
    void anElementLargerThanTheSendBufferGoesOutWhole() throws Exception {
        byte[] big = new byte[TcpSettings.DEFAULTS.sendBufferBytes() * 5 + 123];
        new Random(3).nextBytes(big);
        NioTcpServer s = serve(() -> Flow.of(ByteString.class).take(1).map(b -> ByteString.fromArray(big)));
        try (Socket sock = connect(s)) {
            sock.getOutputStream().write(1);
            assertArrayEquals(big, sock.getInputStream().readAllBytes());
        } finally {
            s.unbind();
        }
    }

    @Test
    void theProtocolCompletingSendsWhatItEmittedThenCloses() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class).take(1).map(b -> ByteString.fromString("bye")));
        try (Socket sock = connect(s)) {
            sock.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            InputStream in = sock.getInputStream();
            assertEquals("bye", new String(in.readNBytes(3), StandardCharsets.US_ASCII));
            assertEquals(-1, in.read(), "the server closes after its last bytes");
        } finally {
            s.unbind();
        }
    }

    @Test
    void theClientClosingItsSideCompletesTheProtocolsInputAndTheAnswerStillArrives() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class)
            .fold(0L, (n, b) -> n + b.size())
            .map(n -> ByteString.fromString("got " + n)));
        try (Socket sock = connect(s)) {
            OutputStream out = sock.getOutputStream();
            out.write(new byte[300_000]);
            sock.shutdownOutput();
            byte[] answer = sock.getInputStream().readAllBytes();
            assertEquals("got 300000", new String(answer, StandardCharsets.US_ASCII));
        } finally {
            s.unbind();
        }
    }

    @Test
    void aClientThatDoesNotReadStopsTheProtocolAtTheSocketBuffersAndOthersGoOn() throws Exception {
        AtomicLong produced = new AtomicLong();
        ByteString chunk = ByteString.fromArrayUnsafe(new byte[64 * 1024]);
        NioTcpServer slow = serve(() -> Flow.fromSinkAndSource(Sink.ignore(),
            Source.repeat(chunk).map(c -> {
                produced.incrementAndGet();
                return c;
            })));
        NioTcpServer echo = serve(() -> Flow.of(ByteString.class));
        try (Socket stalled = connect(slow)) {
            Thread.sleep(1000);
            long first = produced.get();
            Thread.sleep(1000);
            long second = produced.get();
            assertEquals(first, second, "production stopped once the client's window and the socket buffers were full");
            assertTrue(second * chunk.size() < 64L << 20, "at most the socket buffers are in flight: " + second + " chunks");
            // meanwhile another connection is served
            try (Socket other = connect(echo)) {
                other.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
                assertEquals("ping", new String(other.getInputStream().readNBytes(4), StandardCharsets.US_ASCII));
            }
            // reading resumes production
            stalled.getInputStream().readNBytes(8 << 20);
            Thread.sleep(200);
            assertTrue(produced.get() > second, "production resumed after the client read");
        } finally {
            slow.unbind();
            echo.unbind();
        }
    }

    @Test
    void aProtocolThatTakesNoInputStopsReadingAndTheClientsWritesStall() throws Exception {
        AtomicLong taken = new AtomicLong();
        // takes one element, then never asks for another
        NioTcpServer s = serve(() -> Flow.of(ByteString.class)
            .map(b -> {
                taken.incrementAndGet();
                return b;
            })
            .mapAsync(1, b -> new CompletableFuture<ByteString>()));
        try (Socket sock = connect(s)) {
            AtomicLong written = new AtomicLong();
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = sock.getOutputStream();
                    byte[] b = new byte[16 * 1024];
                    while (true) {
                        out.write(b);
                        written.addAndGet(b.length);
                    }
                } catch (IOException e) {
                    // the socket closes at the end of the test
                }
            });
            writer.setDaemon(true);
            writer.start();
            Thread.sleep(1000);
            long first = written.get();
            Thread.sleep(1000);
            assertEquals(first, written.get(), "the client's writes stall: nobody reads the socket");
            assertTrue(first < 64L << 20, "buffered at most the socket buffers and a few chunks: " + first);
            assertTrue(taken.get() <= 1 + TcpSettings.DEFAULTS.readAheadChunks() + 1, "elements taken: " + taken.get());
        } finally {
            s.unbind();
        }
    }

    @Test
    void aConnectionResetFailsTheProtocolAndNothingElse() throws Exception {
        CompletableFuture<CompletionStage<Done>> termination = new CompletableFuture<>();
        NioTcpServer s = serve(() -> Flow.of(ByteString.class)
            .watchTermination((NotUsed m, CompletionStage<Done> done) -> {
                termination.complete(done);
                return m;
            }));
        Socket sock = connect(s);
        sock.getOutputStream().write(1);
        sock.getInputStream().read();
        sock.setSoLinger(true, 0);
        sock.close(); // RST
        CompletionStage<Done> done = termination.get(5, TimeUnit.SECONDS);
        ExecutionException e = assertThrows(ExecutionException.class, () -> done.toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof IOException, e.getCause().toString());
        // the listener still serves
        try (Socket again = connect(s)) {
            again.getOutputStream().write(7);
            assertEquals(7, again.getInputStream().read());
        } finally {
            s.unbind();
        }
    }

    /**
     * A connection whose client has gone gives its descriptor back once its protocol ends, though
     * nothing wakes the selector then (it saw the client's end long before): the JDK releases a
     * registered channel's socket only at the selector's next selection.
     */
    @Test
    void aConnectionTheProtocolEndsAfterTheClientLeftReleasesItsDescriptor() throws Exception {
        // the protocol ends 200 ms after the client's end of input, the selector asleep by then
        NioTcpServer s = serve(() -> Flow.of(ByteString.class)
            .fold(ByteString.emptyByteString(), ByteString::concat)
            .mapAsync(1, b -> CompletableFuture.supplyAsync(() -> b,
                CompletableFuture.delayedExecutor(200, TimeUnit.MILLISECONDS))));
        try {
            long before = sockets();
            for (int i = 0; i < 20; i++) {
                connect(s).close();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            long now = sockets();
            while (now > before && System.nanoTime() < deadline) {
                Thread.sleep(50);
                now = sockets();
            }
            assertTrue(now <= before, now + " sockets open, " + before + " before the 20 connections");
        } finally {
            s.unbind();
        }
    }

    /** This JVM's open sockets, from /proc/self/fd. */
    static long sockets() throws IOException {
        try (java.util.stream.Stream<java.nio.file.Path> fds = java.nio.file.Files.list(java.nio.file.Path.of(
                "/proc/self/fd"))) {
            return fds.filter(p -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(p).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed while listed
                }
            }).count();
        }
    }

    @Test
    void unbindStopsAcceptingButOpenConnectionsGoOn() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class));
        InetSocketAddress addr = s.localAddress();
        try (Socket open = connect(s)) {
            // accepted by the server, not just queued in the kernel's backlog (which closing the
            // listener resets)
            open.getOutputStream().write(41);
            assertEquals(41, open.getInputStream().read());
            s.unbind().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertThrows(ConnectException.class, () -> new Socket().connect(addr, 2000));
            open.getOutputStream().write(42);
            assertEquals(42, open.getInputStream().read());
        }
    }

    @Test
    void aPortInUseFailsTheBindWithTheAddress() throws Exception {
        NioTcpServer s = serve(() -> Flow.of(ByteString.class));
        try {
            ExecutionException e = assertThrows(ExecutionException.class, () -> NioTcpServer.bind("127.0.0.1",
                s.localAddress().getPort(), TcpSettings.DEFAULTS, c -> c.close()).toCompletableFuture()
                .get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("cannot listen on 127.0.0.1:" + s.localAddress().getPort()),
                e.getCause().getMessage());
        } finally {
            s.unbind();
        }
    }

    @Test
    void settingsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new TcpSettings(100, 2, 65536, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new TcpSettings(65536, 0, 65536, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new TcpSettings(65536, 2, 100, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new TcpSettings(65536, 2, 65536, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new TcpSettings(65536, 2, 65536, 10, -1));
    }
}
