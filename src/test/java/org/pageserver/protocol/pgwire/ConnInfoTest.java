package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ConnInfoTest {

    @Test
    void keywordValueBasics() {
        ConnInfo c = ConnInfo.parse("host=127.0.0.1 port=5433 user=postgres dbname=db password='a b' application_name=x");
        assertEquals("127.0.0.1", c.host());
        assertEquals(5433, c.port());
        assertEquals("postgres", c.user());
        assertEquals("db", c.dbname());
        assertEquals("a b", c.password());
        assertEquals("x", c.applicationName());
        assertEquals(List.of("host", "port", "user", "dbname", "password", "application_name"),
                List.copyOf(c.params().keySet()));
    }

    @Test
    void whitespaceQuotingAndEscapesAsLibpq() {
        ConnInfo c = ConnInfo.parse("  host = localhost\tport=\n5432   password='it\\'s \\\\ here' user=a\\ b"
                + " options='-c x=1' sslmode=");
        assertEquals("localhost", c.host());
        assertEquals(5432, c.port());
        assertEquals("it's \\ here", c.password());
        assertEquals("a b", c.user());
        assertEquals("-c x=1", c.get("options"));
        assertEquals("", c.get("sslmode"));
        // quotes inside an unquoted value are literal; '' is an empty value
        assertEquals("a'b", ConnInfo.parse("user=a'b").user());
        assertEquals("", ConnInfo.parse("user=''").user());
        // a trailing backslash is dropped
        assertEquals("abc", ConnInfo.parse("user=abc\\").user());
        // later duplicates win
        assertEquals("b", ConnInfo.parse("user=a user=b").user());
        assertTrue(ConnInfo.parse("   ").params().isEmpty());
        assertTrue(ConnInfo.parse("").params().isEmpty());
    }

    @Test
    void keywordValueErrors() {
        assertEquals("missing \"=\" after \"host\" in connection info string",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("host")).getMessage());
        assertEquals("missing \"=\" after \"host\" in connection info string",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("host localhost")).getMessage());
        assertEquals("unterminated quoted string in connection info string",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("password='abc")).getMessage());
        assertEquals("unterminated quoted string in connection info string",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("password='abc\\'")).getMessage());
        assertEquals("invalid connection option \"foo\"",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("foo=bar")).getMessage());
        assertEquals("invalid connection option \"\"",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("=x")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse(null));
    }

    @Test
    void uriForm() {
        ConnInfo c = ConnInfo.parse("postgresql://us%40er:pa%20ss%3A@db.example.com:5433/my%2Fdb"
                + "?application_name=walreceiver&sslmode=disable");
        assertEquals("us@er", c.user());
        assertEquals("pa ss:", c.password());
        assertEquals("db.example.com", c.host());
        assertEquals(5433, c.port());
        assertEquals("my/db", c.dbname());
        assertEquals("walreceiver", c.applicationName());
        assertEquals("disable", c.get("sslmode"));

        ConnInfo p = ConnInfo.parse("postgres://host");
        assertEquals("host", p.host());
        assertEquals(5432, p.port());
        assertNull(p.user());

        assertTrue(ConnInfo.parse("postgresql://").params().isEmpty());
        assertEquals(Map.of("user", "u"), ConnInfo.parse("postgresql://u@").params());
        assertEquals(Map.of("dbname", "db", "host", "/tmp"), ConnInfo.parse("postgresql:///db?host=%2Ftmp").params());
        assertEquals("require", ConnInfo.parse("postgresql://h/?ssl=true").get("sslmode"));
        assertEquals("", ConnInfo.parse("postgresql://h/?sslmode=").get("sslmode"));
    }

    @Test
    void uriIpv6AndMultipleHosts() {
        ConnInfo c = ConnInfo.parse("postgresql://[::1]:6000/db");
        assertEquals("::1", c.host());
        assertEquals(6000, c.port());
        ConnInfo m = ConnInfo.parse("postgresql://h1:1,[fe80::1],h3:3/db");
        assertEquals("h1,fe80::1,h3", m.get("host"));
        assertEquals("1,,3", m.get("port"));
        assertEquals(List.of("h1", "fe80::1", "h3"), m.hosts());
        assertEquals("h1", m.host());
        assertEquals(1, m.port());
    }

    @Test
    void uriErrors() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://h/d?x=%zz"))
                .getMessage().startsWith("invalid percent-encoded token"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://u%4@h"))
                .getMessage().startsWith("invalid percent-encoded token"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://u%00@h"))
                .getMessage().startsWith("forbidden value %00"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://h/d?sslmode"))
                .getMessage().startsWith("missing key/value separator"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://h/d?a=b=c"))
                .getMessage().startsWith("extra key/value separator"));
        assertEquals("invalid URI query parameter: \"nope\"",
                assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://h/d?nope=1"))
                        .getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://[::1/d"))
                .getMessage().startsWith("end of string reached when looking for matching \"]\""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://[]/d"))
                .getMessage().startsWith("IPv6 host address may not be empty"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://[::1]x/d"))
                .getMessage().startsWith("unexpected character \"x\""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("postgresql://h/d?u=%C3%28"))
                .getMessage().contains("not valid UTF-8"));
    }

    @Test
    void portAndDefaults() {
        ConnInfo c = ConnInfo.parse("user=alice");
        assertEquals("localhost", c.host());
        assertEquals(5432, c.port());
        assertEquals("alice", c.dbname());
        assertEquals("10.0.0.1", ConnInfo.parse("hostaddr=10.0.0.1").host());
        assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("port=abc").port());
        assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("port=0").port());
        assertThrows(IllegalArgumentException.class, () -> ConnInfo.parse("port=70000").port());
    }

    @Test
    void toStringHidesPasswordAndToConnStringRoundTrips() {
        ConnInfo c = ConnInfo.parse("postgresql://replicator:s3cr%27t%20x@10.1.2.3:5432/postgres?application_name=ps");
        assertFalse(c.toString().contains("s3cr"), c.toString());
        assertFalse(c.toString().contains("password"), c.toString());
        assertEquals("user=replicator host=10.1.2.3 port=5432 dbname=postgres application_name=ps", c.toString());
        assertEquals(c, ConnInfo.parse(c.toConnString()));
        assertEquals("s3cr't x", ConnInfo.parse(c.toConnString()).password());

        Map<String, String> weird = new LinkedHashMap<>();
        weird.put("user", "");
        weird.put("password", "a'b\\c d\te\n");
        weird.put("application_name", "ünï cödé");
        weird.put("options", "-c search_path='x'");
        ConnInfo w = ConnInfo.of(weird);
        assertEquals(w, ConnInfo.parse(w.toConnString()));
        assertEquals(w.params(), ConnInfo.parse(w.toConnString()).params());
        assertEquals(w.withoutPassword(), ConnInfo.parse(w.toString()));
    }

    @Test
    void withAndWithout() {
        ConnInfo c = ConnInfo.parse("host=h user=u");
        ConnInfo r = c.with("replication", "true");
        assertEquals("true", r.get("replication"));
        assertNull(c.get("replication"));
        assertEquals(c, r.without("replication"));
        assertThrows(IllegalArgumentException.class, () -> c.with("bogus", "1"));
        assertThrows(IllegalArgumentException.class, () -> ConnInfo.of(Map.of("bogus", "1")));
    }
}
