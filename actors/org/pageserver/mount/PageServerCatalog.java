package org.pageserver.mount;

import java.io.InputStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.protocol.SystemId;
import org.postgresql.PGConnection;
import org.postgresql.copy.PGCopyInputStream;

/**
 * What a clone asks the pageserver once, at mount, over an ordinary pgwire connection: the
 * tenant's newest stored LSN ({@code status}), the relation forks as of the clone's LSN with
 * their sizes ({@code relations}), and the minimal base backup ({@code basebackup ... minimal}
 * or {@code standby}, a CopyOut of a tar). Server errors (unknown system_id, an LSN below the consistent point)
 * come back as SQLExceptions carrying the server's message.
 */
public final class PageServerCatalog implements AutoCloseable {
    private final Connection connection;

    private PageServerCatalog(Connection connection) {
        this.connection = connection;
    }

    /** @param properties pgjdbc settings: user, password, preferQueryMode=simple */
    public static PageServerCatalog connect(String url, Properties properties) throws SQLException {
        return new PageServerCatalog(DriverManager.getConnection(url, properties));
    }

    /** The newest LSN stored durably for the tenant: what {@code --latest} clones at. */
    public Lsn latestLsn(SystemId systemId) throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("status")) {
            while (rs.next()) {
                if (rs.getString(1).equals(systemId.toString())) {
                    return Lsn.parse(rs.getString(5));
                }
            }
        }
        throw new SQLException("unknown system_id " + systemId + ": no such tenant on the pageserver");
    }

    /** Every relation fork as of {@code lsn} with its size in blocks. */
    public Map<RelTag, Integer> relations(SystemId systemId, Lsn lsn) throws SQLException {
        Map<RelTag, Integer> out = new HashMap<>();
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("relations " + systemId + " " + lsn)) {
            while (rs.next()) {
                out.put(new RelTag((int) rs.getLong(1), (int) rs.getLong(2), (int) rs.getLong(3),
                    ForkNumber.of(rs.getInt(4))), (int) rs.getLong(5));
            }
        }
        return out;
    }

    /**
     * The minimal base backup as of {@code lsn}, or its standby form (a standby shut down in
     * recovery at {@code lsn}, no WAL): a tar, read as it arrives.
     */
    public InputStream minimalBackup(SystemId systemId, Lsn lsn, boolean standby) throws SQLException {
        return new PGCopyInputStream(connection.unwrap(PGConnection.class),
            "basebackup " + systemId + " " + lsn + (standby ? " standby" : " minimal"));
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
