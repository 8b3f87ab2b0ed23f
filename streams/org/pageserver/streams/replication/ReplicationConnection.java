package org.pageserver.streams.replication;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.BackendMessage;
import org.pageserver.protocol.pgwire.ConnInfo;
import org.pageserver.protocol.pgwire.CopyData;
import org.pageserver.protocol.pgwire.CopyDone;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.Md5Password;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgFrameDecoder;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.protocol.pgwire.SqlState;
import org.pageserver.protocol.replication.ReplicationMessage;

/**
 * A physical replication connection to a PostgreSQL primary (startup parameter
 * {@code replication=true}), as walreceiver and pg_basebackup open one: the replication
 * commands IDENTIFY_SYSTEM, SHOW, CREATE_REPLICATION_SLOT, BASE_BACKUP and START_REPLICATION.
 *
 * <p>Blocking, plain TCP (a server that requires SSL is refused with a clear error); one
 * thread at a time. Authentication: trust, cleartext password, md5, SCRAM-SHA-256.
 */
public final class ReplicationConnection implements AutoCloseable {
    /** Largest message accepted from the primary (BASE_BACKUP sends up to ~1 MB per CopyData). */
    static final int MAX_MESSAGE = 64 << 20;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final PgFrameDecoder decoder = PgFrameDecoder.forClient(MAX_MESSAGE);
    private final byte[] readBuf = new byte[256 << 10];
    private final String where;

    private ReplicationConnection(Socket socket, String where) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 256 << 10);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 << 10);
        this.where = where;
    }

    /** Connects and authenticates. */
    public static ReplicationConnection open(ConnInfo conninfo, Duration connectTimeout) {
        String host = conninfo.host();
        if (host == null || host.isEmpty() || host.startsWith("/")) {
            host = "127.0.0.1";
        }
        String where = host + ":" + conninfo.port();
        String user = conninfo.user() != null ? conninfo.user() : System.getProperty("user.name");
        String password = conninfo.password() != null ? conninfo.password() : System.getenv("PGPASSWORD");
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.setReceiveBufferSize(1 << 20);
            s.connect(new InetSocketAddress(host, conninfo.port()), (int) connectTimeout.toMillis());
            s.setSoTimeout((int) Math.max(connectTimeout.toMillis(), 1000));
            ReplicationConnection c = new ReplicationConnection(s, where);
            c.startup(user, conninfo.dbname(), password, conninfo.applicationName());
            return c;
        } catch (IOException e) {
            closeQuietly(s);
            throw new ReplicationException(SqlState.CONNECTION_FAILURE, "cannot connect to " + where + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(s);
            throw e;
        }
    }

    private void startup(String user, String dbname, String password, String appName) throws IOException {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", user);
        if (dbname != null) {
            params.put("database", dbname);
        }
        params.put("replication", "true");
        params.put("application_name", appName != null ? appName : "pageserver");
        send(new FrontendMessage.StartupMessage(params));
        Scram.Client scram = null;
        while (true) {
            BackendMessage m = receive();
            if (m instanceof BackendMessage.AuthenticationOk) {
                continue;
            } else if (m instanceof BackendMessage.AuthenticationCleartextPassword) {
                send(new FrontendMessage.PasswordMessage(requirePassword(password)));
            } else if (m instanceof BackendMessage.AuthenticationMD5Password md5) {
                send(new FrontendMessage.PasswordMessage(Md5Password.clientResponse(requirePassword(password), user,
                    md5.salt())));
            } else if (m instanceof BackendMessage.AuthenticationSASL sasl) {
                if (!sasl.mechanisms().contains("SCRAM-SHA-256")) {
                    throw new ReplicationException(SqlState.FEATURE_NOT_SUPPORTED, "the primary at " + where
                        + " offers only SASL mechanisms " + sasl.mechanisms());
                }
                scram = new Scram.Client(requirePassword(password));
                send(new FrontendMessage.SASLInitialResponse("SCRAM-SHA-256", scram.clientFirstMessage()));
            } else if (m instanceof BackendMessage.AuthenticationSASLContinue cont) {
                if (scram == null) {
                    throw protocol("SASLContinue without SASL");
                }
                send(new FrontendMessage.SASLResponse(scram.clientFinalMessage(cont.data())));
            } else if (m instanceof BackendMessage.AuthenticationSASLFinal fin) {
                if (scram == null) {
                    throw protocol("SASLFinal without SASL");
                }
                scram.verifyServerFinal(fin.data());
            } else if (m instanceof BackendMessage.ReadyForQuery) {
                return;
            } else if (m instanceof BackendMessage.ErrorResponse e) {
                throw error(e);
            }
            // ParameterStatus, BackendKeyData, NoticeResponse: nothing to do
        }
    }

    private String requirePassword(String password) {
        if (password == null) {
            throw new ReplicationException(SqlState.INVALID_PASSWORD, "the primary at " + where
                + " asks for a password and the conninfo has none");
        }
        return password;
    }

    public IdentifySystem identifySystem() {
        List<List<String>> rows = simpleQuery("IDENTIFY_SYSTEM");
        if (rows.size() != 1 || rows.get(0).size() < 4) {
            throw protocol("unexpected IDENTIFY_SYSTEM result " + rows);
        }
        List<String> r = rows.get(0);
        return new IdentifySystem(SystemId.parse(r.get(0)), Integer.parseInt(r.get(1)), Lsn.parse(r.get(2)), r.get(3));
    }

    /** wal_segment_size in bytes. */
    public int walSegmentSize() {
        List<List<String>> rows = simpleQuery("SHOW wal_segment_size");
        String v = rows.get(0).get(0).trim();
        long mult = 1;
        if (v.endsWith("GB")) {
            mult = 1L << 30;
        } else if (v.endsWith("MB")) {
            mult = 1L << 20;
        } else if (v.endsWith("kB")) {
            mult = 1L << 10;
        }
        String digits = v.replaceAll("[^0-9]", "");
        return (int) (Long.parseLong(digits) * mult);
    }

    /** Creates the physical slot, reserving WAL from now on; an existing slot of that name is kept. */
    public void createPhysicalSlot(String name) {
        try {
            simpleQuery("CREATE_REPLICATION_SLOT " + quoteIdent(name) + " PHYSICAL RESERVE_WAL");
        } catch (ReplicationException e) {
            if (!"42710".equals(e.sqlState())) {
                throw e;
            }
        }
    }

    /**
     * Drops the slot, waiting for its walsender to let go of it (a connection just closed may
     * still hold it for a moment); a slot that does not exist is no error.
     */
    public void dropSlot(String name) {
        try {
            simpleQuery("DROP_REPLICATION_SLOT " + quoteIdent(name) + " WAIT");
        } catch (ReplicationException e) {
            if (!"42704".equals(e.sqlState())) {
                throw e;
            }
        }
    }

    /** Runs BASE_BACKUP (PG15 syntax) and streams its archives into {@code sink}. */
    public BaseBackupResult baseBackup(String label, BaseBackupSink sink) {
        try {
            send(new FrontendMessage.Query("BASE_BACKUP ( LABEL " + quoteLiteral(label)
                + ", CHECKPOINT 'fast', WAL false, WAIT false, MANIFEST 'no' )"));
            List<List<String>> start = readRows();
            if (start.size() != 1) {
                throw protocol("unexpected BASE_BACKUP start result " + start);
            }
            Lsn startLsn = Lsn.parse(start.get(0).get(0));
            int startTli = Integer.parseInt(start.get(0).get(1));
            sink.start(startLsn, startTli);
            // the tablespace list (a result set), then the copy stream
            BackendMessage m = receive();
            while (!(m instanceof BackendMessage.CopyOutResponse)) {
                if (m instanceof BackendMessage.ErrorResponse e) {
                    throw error(e);
                }
                m = receive();
            }
            // the archives, each read by the sink through an ArchiveInput until the next
            // archive, the manifest or the end of the copy; the manifest is skipped
            ReplicationMessage next = nextBackupMessage();
            while (next instanceof ReplicationMessage.NewArchive a) {
                ArchiveInput archive = new ArchiveInput();
                sink.archive(a.name(), a.tablespaceLocation(), archive);
                next = archive.drain();
            }
            while (next != null) {
                if (!(next instanceof ReplicationMessage.ManifestStart || next instanceof ReplicationMessage.ArchiveData
                    || next instanceof ReplicationMessage.Progress)) {
                    throw protocol("unexpected " + next.getClass().getSimpleName() + " after the archives of BASE_BACKUP");
                }
                next = nextBackupMessage();
            }
            List<List<String>> end = readRows();
            if (end.size() != 1) {
                throw protocol("unexpected BASE_BACKUP end result " + end);
            }
            awaitReady();
            return new BaseBackupResult(startLsn, startTli, Lsn.parse(end.get(0).get(0)),
                Integer.parseInt(end.get(0).get(1)));
        } catch (IOException e) {
            throw lost(e);
        }
    }

    /**
     * The next message inside BASE_BACKUP's copy stream, or null at its CopyDone. An archive
     * message without its data is a protocol error.
     */
    private ReplicationMessage nextBackupMessage() throws IOException {
        BackendMessage m = receive();
        if (m instanceof CopyData d) {
            try {
                return ReplicationMessage.parseBackup(d.data());
            } catch (IllegalArgumentException e) {
                throw protocol(e.getMessage());
            }
        }
        if (m instanceof CopyDone) {
            return null;
        }
        if (m instanceof BackendMessage.ErrorResponse e) {
            throw error(e);
        }
        throw protocol("unexpected " + m.getClass().getSimpleName() + " in BASE_BACKUP");
    }

    /**
     * One archive of BASE_BACKUP as a stream: the payloads of its 'd' messages, read off the
     * socket as the reader asks (so a GB-sized archive never sits in memory), ending at the
     * first message that is not this archive's data (progress messages are skipped).
     */
    private final class ArchiveInput extends InputStream {
        private ReplicationMessage.ArchiveData current;
        private int pos;
        /** The message that ended the archive (null: the copy's end), once it did. */
        private ReplicationMessage after;
        private boolean ended;

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (current == null || pos == current.length()) {
                if (ended) {
                    return -1;
                }
                ReplicationMessage m = nextBackupMessage();
                if (m instanceof ReplicationMessage.ArchiveData d) {
                    current = d;
                    pos = 0;
                } else if (!(m instanceof ReplicationMessage.Progress)) {
                    after = m;
                    ended = true;
                }
            }
            int n = Math.min(len, current.length() - pos);
            System.arraycopy(current.payload(), current.offset() + pos, b, off, n);
            pos += n;
            return n;
        }

        /** Skips what the reader left (a tar's trailing zero blocks); returns the message after the archive. */
        ReplicationMessage drain() throws IOException {
            byte[] skip = new byte[8192];
            while (read(skip, 0, skip.length) >= 0) {
                // discarded
            }
            return after;
        }
    }

    /**
     * Sends START_REPLICATION and waits for CopyBothResponse; afterwards use {@link #readStreaming}
     * and {@link #sendStatus}.
     */
    public void startReplication(String slot, Lsn start, int timeline) {
        try {
            send(new FrontendMessage.Query("START_REPLICATION SLOT " + quoteIdent(slot) + " PHYSICAL " + start
                + " TIMELINE " + timeline));
            while (true) {
                BackendMessage m = receive();
                if (m instanceof BackendMessage.CopyBothResponse) {
                    return;
                }
                if (m instanceof BackendMessage.ErrorResponse e) {
                    throw error(e);
                }
            }
        } catch (IOException e) {
            throw lost(e);
        }
    }

    /**
     * The next message of the stream, or null when nothing arrived within {@code timeout}
     * (so the caller can send its status). The primary ending the stream is an error.
     */
    public ReplicationMessage readStreaming(Duration timeout) {
        try {
            socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
            BackendMessage m;
            try {
                m = receive();
            } catch (SocketTimeoutException e) {
                return null;
            }
            if (m instanceof CopyData d) {
                try {
                    return ReplicationMessage.parseStreaming(d.data());
                } catch (IllegalArgumentException e) {
                    throw protocol(e.getMessage());
                }
            }
            if (m instanceof BackendMessage.ErrorResponse e) {
                throw error(e);
            }
            if (m instanceof CopyDone) {
                throw new ReplicationException(SqlState.CONNECTION_FAILURE, "the primary at " + where
                    + " ended the WAL stream (timeline switch or shutdown)");
            }
            if (m instanceof BackendMessage.CommandComplete) {
                // WalSndDone: a walsender shutting down, once everything it sent was confirmed
                // flushed, ends the COPY with CommandComplete alone, no CopyDone
                throw new ReplicationException(SqlState.CONNECTION_FAILURE, "the primary at " + where
                    + " ended the WAL stream (shutdown)");
            }
            throw protocol("unexpected " + m.getClass().getSimpleName() + " in the WAL stream");
        } catch (IOException e) {
            throw lost(e);
        }
    }

    public void sendStatus(Lsn write, Lsn flush, Lsn apply, boolean replyRequested) {
        try {
            send(new CopyData(new ReplicationMessage.StandbyStatusUpdate(write, flush, apply, ReplicationMessage.now(),
                replyRequested).toBytes()));
        } catch (IOException e) {
            throw lost(e);
        }
    }

    /** Runs a replication command that returns rows (or none). */
    public List<List<String>> simpleQuery(String sql) {
        try {
            send(new FrontendMessage.Query(sql));
            List<List<String>> rows = readRows();
            awaitReady();
            return rows;
        } catch (IOException e) {
            throw lost(e);
        }
    }

    /** Reads one result (rows up to CommandComplete); errors are thrown after ReadyForQuery. */
    private List<List<String>> readRows() throws IOException {
        List<List<String>> rows = new ArrayList<>();
        while (true) {
            BackendMessage m = receive();
            if (m instanceof BackendMessage.DataRow d) {
                List<String> row = new ArrayList<>();
                for (byte[] v : d.values()) {
                    row.add(v == null ? null : new String(v, StandardCharsets.UTF_8));
                }
                rows.add(row);
            } else if (m instanceof BackendMessage.CommandComplete) {
                return rows;
            } else if (m instanceof BackendMessage.ErrorResponse e) {
                awaitReady();
                throw error(e);
            } else if (m instanceof BackendMessage.ReadyForQuery) {
                throw protocol("ReadyForQuery before the result was complete");
            }
        }
    }

    private void awaitReady() throws IOException {
        while (!(receive() instanceof BackendMessage.ReadyForQuery)) {
            // skip notices
        }
    }

    private void send(PgMessage m) throws IOException {
        out.write(m.toBytes());
        out.flush();
    }

    private BackendMessage receive() throws IOException {
        while (true) {
            PgFrame f;
            try {
                f = decoder.next();
            } catch (PgProtocolException e) {
                throw protocol(e.getMessage());
            }
            if (f != null) {
                try {
                    return BackendMessage.parse(f);
                } catch (PgProtocolException | IllegalArgumentException e) {
                    throw protocol(e.getMessage());
                }
            }
            int n = in.read(readBuf, 0, readBuf.length);
            if (n < 0) {
                throw new IOException("connection closed by the primary");
            }
            decoder.feed(readBuf, 0, n);
        }
    }

    private ReplicationException error(BackendMessage.ErrorResponse e) {
        return new ReplicationException(e.sqlState(), "the primary at " + where + " said: " + e.message());
    }

    private ReplicationException protocol(String what) {
        return new ReplicationException(SqlState.PROTOCOL_VIOLATION, "replication protocol error from " + where + ": " + what);
    }

    private ReplicationException lost(IOException e) {
        return new ReplicationException(SqlState.CONNECTION_FAILURE, "connection to the primary at " + where + " lost: "
            + e.getMessage(), e);
    }

    static String quoteIdent(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    static String quoteLiteral(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    /** Closes the socket from another thread, so a blocked read ends at once. */
    public void abort() {
        closeQuietly(socket);
    }

    @Override
    public void close() {
        try {
            if (!socket.isClosed()) {
                out.write(new FrontendMessage.Terminate().toBytes());
                out.flush();
            }
        } catch (IOException ignored) {
            // closing anyway
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
