package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pgwire commands with real clients (psql, pgjdbc): contracts and clear errors. */
class ServerCommandsIT {
    @TempDir
    static Path tmp;
    static TestPageServer ps;

    @BeforeAll
    static void start() throws Exception {
        ps = TestPageServer.start(tmp.resolve("ps"));
    }

    @AfterAll
    static void stop() {
        ps.close();
    }

    Connection jdbc() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("preferQueryMode", "simple");
        return DriverManager.getConnection(ps.url(), p);
    }

    @Test
    void statusHasTheDocumentedColumns() throws Exception {
        try (Connection c = jdbc(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("status")) {
            ResultSetMetaData md = rs.getMetaData();
            List<String> cols = new ArrayList<>();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                cols.add(md.getColumnName(i));
            }
            assertEquals(List.of("system_id", "state", "last_valid_lsn", "last_record_lsn", "durable_lsn",
                "consistent_lsn", "primary", "basebackups", "horizon_lsn"), cols);
        }
        assertEquals("", ps.psql("status"));
    }

    @Test
    void callmemaybeToNowhereIsAClearErrorAndTheServerKeepsServing() throws Exception {
        try (Connection c = jdbc(); Statement st = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class,
                () -> st.executeQuery("callmemaybe host=127.0.0.1 port=1 user=postgres connect_timeout=2"));
            assertEquals("08006", e.getSQLState());
            assertTrue(e.getMessage().contains("cannot connect"), e.getMessage());
            SQLException bad = assertThrows(SQLException.class, () -> st.executeQuery("callmemaybe host='unterminated"));
            assertTrue(bad.getMessage().length() > 10, bad.getMessage());
            // same connection still works
            try (ResultSet rs = st.executeQuery("status")) {
                assertTrue(!rs.next());
            }
        }
    }

    @Test
    void unknownCommandsAndTenantsAreRefusedWithSqlstates() throws Exception {
        try (Connection c = jdbc(); Statement st = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class, () -> st.executeQuery("select 1"));
            assertEquals("42601", e.getSQLState());
            e = assertThrows(SQLException.class, () -> st.executeQuery("pagestream 12345"));
            assertEquals("42704", e.getSQLState());
            e = assertThrows(SQLException.class, () -> st.executeQuery("pagestream notanumber"));
            assertEquals("42601", e.getSQLState());
        }
        Exception e = assertThrows(Exception.class, () -> ps.psql("frobnicate"));
        assertTrue(e.getMessage().contains("unknown command"), e.getMessage());
    }
}
