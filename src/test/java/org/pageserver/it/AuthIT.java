package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.client.PageClient;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.Scram;

/**
 * SCRAM-SHA-256 users from the configuration, and per-user tenants: a wrong password is 28P01,
 * another tenant's pages are 42501, and a user never sees another tenant in status.
 */
class AuthIT {
    @TempDir
    Path tmp;

    Connection connect(TestPageServer ps, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("preferQueryMode", "simple");
        return DriverManager.getConnection(ps.url(), p);
    }

    @Test
    void scramUsersSeeOnlyTheirTenants() throws Exception {
        try (PgCluster pg = PgCluster.builder().start()) {
            Map<String, Object> conf = Map.of(
                "pageserver.auth.method", "scram-sha-256",
                "pageserver.auth.users.alice", Scram.Secret.build("alice secret").toString(),
                "pageserver.auth.users.bob", Scram.Secret.build("bob secret").toString(),
                "pageserver.auth.tenants.alice", List.of("*"),
                "pageserver.auth.tenants.bob", List.of("12345"));
            try (TestPageServer ps = TestPageServer.start(tmp.resolve("ps"), conf)) {
                SQLException wrong = assertThrows(SQLException.class, () -> connect(ps, "alice", "not it"));
                assertEquals("28P01", wrong.getSQLState());
                SQLException nobody = assertThrows(SQLException.class, () -> connect(ps, "mallory", "x"));
                assertEquals("28P01", nobody.getSQLState());

                String systemId;
                try (Connection c = connect(ps, "alice", "alice secret"); Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("callmemaybe " + pg.conninfo())) {
                    assertTrue(rs.next());
                    systemId = rs.getString(1);
                }
                try (Connection c = connect(ps, "bob", "bob secret"); Statement st = c.createStatement()) {
                    try (ResultSet rs = st.executeQuery("status")) {
                        assertTrue(!rs.next(), "bob does not see alice's tenant");
                    }
                    SQLException denied = assertThrows(SQLException.class, () -> st.executeQuery("pagestream " + systemId));
                    assertEquals("42501", denied.getSQLState());
                    SQLException noImport = assertThrows(SQLException.class,
                        () -> st.executeQuery("callmemaybe " + pg.conninfo()));
                    assertEquals("42501", noImport.getSQLState());
                }
                SQLException viaClient = assertThrows(SQLException.class,
                    () -> PageClient.connect(ps.url(), "bob", "bob secret", SystemId.parse(systemId)));
                assertEquals("42501", viaClient.getSQLState());
                try (PageClient c = PageClient.connect(ps.url(), "alice", "alice secret", SystemId.parse(systemId))) {
                    assertTrue(c.exists(new org.pageserver.protocol.RelTag(1664, 0, 1262,
                        org.pageserver.protocol.ForkNumber.MAIN), new Lsn(1), true), "pg_database exists");
                }
                // psql, the operator's client: without a password (-w, never prompt) alice is refused
                Process p = new ProcessBuilder("psql", "-X", "-w", "-At", "-h", "127.0.0.1", "-p", String.valueOf(ps.port()), "-U",
                    "alice", "-d", "postgres", "-c", "status").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor();
                assertTrue(out.contains("password") || out.contains(systemId), out);
            }
        }
    }
}
