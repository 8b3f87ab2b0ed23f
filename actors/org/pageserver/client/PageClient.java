package org.pageserver.client;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pagestream.PageStreamRequest;
import org.pageserver.protocol.pagestream.PageStreamResponse;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyDual;
import org.postgresql.copy.CopyIn;

/**
 * What a compute node links to read pages: one pgwire connection (pgjdbc, so every
 * authentication method PostgreSQL clients have works) switched into the {@code pagestream}
 * sub-protocol. Requests can be pipelined: {@link #pipeline} writes a window of requests before
 * reading their responses, which arrive in request order.
 *
 * <p>Not thread-safe: one connection per thread, as with any pgwire connection.
 */
public final class PageClient implements AutoCloseable {
    /** Requests written before the first response is read. */
    public static final int DEFAULT_WINDOW = 32;

    private final Connection connection;
    private final CopyDual copy;

    private PageClient(Connection connection, CopyDual copy) {
        this.connection = connection;
        this.copy = copy;
    }

    /**
     * Opens a pagestream for {@code systemId}.
     *
     * @param url      a pgjdbc URL of the pageserver, e.g. {@code jdbc:postgresql://127.0.0.1:6400/postgres}
     * @param user     user name
     * @param password password, or null for trust authentication
     */
    public static PageClient connect(String url, String user, String password, SystemId systemId) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("assumeMinServerVersion", "15");
        p.setProperty("ApplicationName", "pageserver-client");
        Connection c = DriverManager.getConnection(url, p);
        try {
            CopyIn op = c.unwrap(PGConnection.class).getCopyAPI().copyIn("pagestream " + systemId);
            if (!(op instanceof CopyDual dual)) {
                op.cancelCopy();
                throw new SQLException("the server did not answer pagestream with CopyBothResponse");
            }
            return new PageClient(c, dual);
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public PageStreamResponse send(PageStreamRequest request) throws SQLException {
        return pipeline(List.of(request), 1).get(0);
    }

    /** Sends all requests, at most {@code window} ahead of the responses read; returns responses in order. */
    public List<PageStreamResponse> pipeline(List<? extends PageStreamRequest> requests, int window)
        throws SQLException {
        List<PageStreamResponse> out = new ArrayList<>(requests.size());
        int sent = 0;
        while (out.size() < requests.size()) {
            while (sent < requests.size() && sent - out.size() < window) {
                byte[] b = requests.get(sent++).write();
                copy.writeToCopy(b, 0, b.length);
            }
            copy.flushCopy();
            byte[] resp = copy.readFromCopy();
            if (resp == null) {
                throw new SQLException("the pageserver ended the pagestream after " + out.size() + " responses");
            }
            out.add(PageStreamResponse.parse(resp));
        }
        return out;
    }

    /** The page, or an exception carrying the server's error message. */
    public byte[] getPage(RelTag rel, int blkno, Lsn lsn, boolean latest) throws SQLException {
        PageStreamResponse r = send(new PageStreamRequest.GetPage(latest, lsn, rel, blkno));
        if (r instanceof PageStreamResponse.Page p) {
            return p.page();
        }
        throw failure(r);
    }

    public int nblocks(RelTag rel, Lsn lsn, boolean latest) throws SQLException {
        PageStreamResponse r = send(new PageStreamRequest.Nblocks(latest, lsn, rel));
        if (r instanceof PageStreamResponse.Nblocks n) {
            return n.nblocks();
        }
        throw failure(r);
    }

    public boolean exists(RelTag rel, Lsn lsn, boolean latest) throws SQLException {
        PageStreamResponse r = send(new PageStreamRequest.Exists(latest, lsn, rel));
        if (r instanceof PageStreamResponse.Exists e) {
            return e.exists();
        }
        throw failure(r);
    }

    public long dbSize(int dbNode, Lsn lsn, boolean latest) throws SQLException {
        PageStreamResponse r = send(new PageStreamRequest.DbSize(latest, lsn, dbNode));
        if (r instanceof PageStreamResponse.DbSize d) {
            return d.bytes();
        }
        throw failure(r);
    }

    private static SQLException failure(PageStreamResponse r) {
        if (r instanceof PageStreamResponse.Error e) {
            return new SQLException(e.message());
        }
        return new SQLException("unexpected pagestream response " + r);
    }

    /** Ends the pagestream with CopyDone and closes the connection. */
    @Override
    public void close() throws SQLException {
        try {
            if (copy.isActive()) {
                copy.endCopy();
            }
        } finally {
            connection.close();
        }
    }
}
