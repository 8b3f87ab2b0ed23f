package org.pageserver.protocol.pgwire;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationCleartextPassword;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationMD5Password;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationOk;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASL;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLContinue;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLFinal;
import org.pageserver.protocol.pgwire.BackendMessage.ErrorResponse;
import org.pageserver.protocol.pgwire.BackendMessage.ParameterStatus;
import org.pageserver.protocol.pgwire.BackendMessage.ReadyForQuery;

/**
 * A small blocking pgwire client over a plain socket, built only from this package's message
 * classes: for driving servers (real PostgreSQL or ours) byte by byte in tests.
 */
public final class RawPgClient implements AutoCloseable {

    /** Thrown by the login helpers when the server answers with an ErrorResponse. */
    public static final class ServerError extends RuntimeException {
        public final ErrorResponse error;

        ServerError(ErrorResponse error) {
            super(error.sqlState() + " " + error.message());
            this.error = error;
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final PgFrameDecoder decoder = PgFrameDecoder.forClient(PgFrameDecoder.DEFAULT_CLIENT_MAX_MESSAGE_SIZE);
    private final byte[] readBuf = new byte[65536];
    public final Map<String, String> parameterStatus = new LinkedHashMap<>();
    public BackendMessage.BackendKeyData keyData;

    public RawPgClient(String host, int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 10_000);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    public Socket socket() {
        return socket;
    }

    public void send(PgMessage... messages) throws IOException {
        PgWriter w = new PgWriter();
        for (PgMessage m : messages) {
            m.write(w);
        }
        out.write(w.toByteArray());
        out.flush();
    }

    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads more bytes into the decoder; false at end of stream. */
    private boolean fill() throws IOException {
        int n = in.read(readBuf);
        if (n < 0) {
            return false;
        }
        decoder.feed(readBuf, 0, n);
        return true;
    }

    /** The next message, or null if the server closed the connection. */
    public BackendMessage read() throws IOException {
        while (true) {
            PgFrame f = decoder.next();
            if (f != null) {
                return BackendMessage.parse(f);
            }
            if (!fill()) {
                return null;
            }
        }
    }

    /** The next message; fails at end of stream. */
    public BackendMessage expect() throws IOException {
        BackendMessage m = read();
        if (m == null) {
            throw new IOException("server closed the connection");
        }
        return m;
    }

    public <T extends BackendMessage> T expect(Class<T> type) throws IOException {
        BackendMessage m = expect();
        if (!type.isInstance(m)) {
            throw new AssertionError("expected " + type.getSimpleName() + " but got " + m);
        }
        return type.cast(m);
    }

    /** One raw byte (the answer to SSLRequest); -1 at end of stream. */
    public int readByte() throws IOException {
        while (true) {
            int b = decoder.nextByte();
            if (b >= 0) {
                return b;
            }
            if (!fill()) {
                return -1;
            }
        }
    }

    /** True if the server closes the connection (EOF or reset) within the socket timeout. */
    public boolean isClosedByServer() throws IOException {
        try {
            while (true) {
                BackendMessage m = read();
                if (m == null) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    /** Messages up to and including ReadyForQuery. */
    public List<BackendMessage> readUntilReady() throws IOException {
        List<BackendMessage> out = new ArrayList<>();
        while (true) {
            BackendMessage m = expect();
            out.add(m);
            if (m instanceof ReadyForQuery) {
                return out;
            }
        }
    }

    /**
     * Sends a StartupMessage and logs in, answering SCRAM, MD5 or cleartext requests with
     * {@code password}. Returns the messages after authentication up to ReadyForQuery.
     */
    public List<BackendMessage> login(Map<String, String> params, String password) throws IOException {
        send(new FrontendMessage.StartupMessage(params));
        Scram.Client scram = null;
        while (true) {
            BackendMessage m = expect();
            if (m instanceof ErrorResponse e) {
                throw new ServerError(e);
            } else if (m instanceof AuthenticationOk) {
                break;
            } else if (m instanceof AuthenticationCleartextPassword) {
                send(new FrontendMessage.PasswordMessage(password));
            } else if (m instanceof AuthenticationMD5Password md5) {
                send(new FrontendMessage.PasswordMessage(
                        Md5Password.clientResponse(password, params.get("user"), md5.salt())));
            } else if (m instanceof AuthenticationSASL sasl) {
                if (!sasl.mechanisms().contains(Scram.SCRAM_SHA_256_NAME)) {
                    throw new AssertionError("no SCRAM-SHA-256 in " + sasl.mechanisms());
                }
                scram = new Scram.Client(password);
                send(new FrontendMessage.SASLInitialResponse(Scram.SCRAM_SHA_256_NAME, scram.clientFirstMessage()));
            } else if (m instanceof AuthenticationSASLContinue c) {
                send(new FrontendMessage.SASLResponse(scram.clientFinalMessage(c.data())));
            } else if (m instanceof AuthenticationSASLFinal f) {
                scram.verifyServerFinal(f.data());
            } else if (m instanceof BackendMessage.NegotiateProtocolVersion) {
                // fine, we asked for 3.0
            } else {
                throw new AssertionError("unexpected message during authentication: " + m);
            }
        }
        List<BackendMessage> rest = readUntilReady();
        for (BackendMessage m : rest) {
            if (m instanceof ParameterStatus p) {
                parameterStatus.put(p.name(), p.value());
            } else if (m instanceof BackendMessage.BackendKeyData k) {
                keyData = k;
            } else if (m instanceof ErrorResponse e) {
                throw new ServerError(e);
            }
        }
        return rest;
    }

    /** Simple query: messages up to and including ReadyForQuery. */
    public List<BackendMessage> query(String sql) throws IOException {
        send(new FrontendMessage.Query(sql));
        return readUntilReady();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
