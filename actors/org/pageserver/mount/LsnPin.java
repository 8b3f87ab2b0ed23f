package org.pageserver.mount;

import java.io.PrintStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * The clone's LSN pinned on the pageserver for as long as the mount runs: {@code pin <system_id>
 * <lsn>} on a connection of its own, which holds the pin while it stays open, so the tenant's
 * retention horizon never passes the LSN the clone reads its pages at (a standby clone too: its
 * lower layer stays as of the LSN it was made at).
 *
 * <p>A keeper thread checks the connection every {@link #CHECK_EVERY}; lost (a pageserver
 * restart forgets its pins), it connects and pins again. If the horizon passed the LSN
 * meanwhile, the pin is refused and the keeper says so once: reads of pages the clone has not
 * fetched yet then fail with the same message, as an I/O error for PostgreSQL.
 */
final class LsnPin implements AutoCloseable {
    static final Duration CHECK_EVERY = Duration.ofSeconds(5);

    private final String url;
    private final Properties properties;
    private final SystemId systemId;
    private final Lsn lsn;
    private final PrintStream log;
    private final Thread keeper;
    private volatile boolean closed;
    /** The connection holding the pin; null while it is lost. Owned by the keeper after the first pin. */
    private Connection connection;

    private LsnPin(String url, Properties properties, SystemId systemId, Lsn lsn, PrintStream log, Connection first) {
        this.url = url;
        this.properties = properties;
        this.systemId = systemId;
        this.lsn = lsn;
        this.log = log;
        this.connection = first;
        this.keeper = new Thread(this::keep, "lsn-pin-" + systemId);
        keeper.setDaemon(true);
    }

    /** Pins {@code lsn} now (an SQLException with the server's message if it refuses) and keeps it pinned. */
    static LsnPin hold(String url, Properties properties, SystemId systemId, Lsn lsn, PrintStream log)
        throws SQLException {
        LsnPin p = new LsnPin(url, properties, systemId, lsn, log, pinned(url, properties, systemId, lsn));
        p.keeper.start();
        return p;
    }

    private static Connection pinned(String url, Properties properties, SystemId systemId, Lsn lsn)
        throws SQLException {
        Connection c = DriverManager.getConnection(url, properties);
        try (Statement s = c.createStatement()) {
            s.execute("pin " + systemId + " " + lsn);
            return c;
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    private void keep() {
        String lastRefusal = null;
        while (!closed) {
            try {
                Thread.sleep(CHECK_EVERY.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            if (closed) {
                return;
            }
            try {
                if (connection != null && connection.isValid((int) CHECK_EVERY.toSeconds())) {
                    continue;
                }
            } catch (SQLException e) {
                // as lost
            }
            closeQuietly();
            try {
                connection = pinned(url, properties, systemId, lsn);
                log.println("mount: LSN " + lsn + " pinned again on the pageserver");
                lastRefusal = null;
            } catch (SQLException e) {
                // the pageserver still away: tried again at the next check, said once per cause
                if (!e.getMessage().equals(lastRefusal)) {
                    log.println("mount: cannot pin LSN " + lsn + " on the pageserver: " + e.getMessage());
                    lastRefusal = e.getMessage();
                }
            }
        }
    }

    private void closeQuietly() {
        Connection c = connection;
        connection = null;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // gone already
            }
        }
    }

    /** Releases the pin: the connection holding it closes. */
    @Override
    public void close() {
        closed = true;
        keeper.interrupt();
        try {
            keeper.join(CHECK_EVERY.toMillis() * 3);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly();
    }
}
