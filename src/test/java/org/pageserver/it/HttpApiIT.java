package org.pageserver.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.metrics.PrometheusText;
import org.pageserver.protocol.pgwire.Scram;

/**
 * Every route of the HTTP listener, with good and bad input: JSON bodies, unknown tenants,
 * wrong methods and paths, and (on a second server with SCRAM users) credentials and grants.
 */
class HttpApiIT {
    @TempDir
    static Path tmp;
    static PgCluster pg;
    static TestPageServer ps;
    static String systemId;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() throws Exception {
        pg = PgCluster.builder().start();
        ps = TestPageServer.start(tmp.resolve("ps"));
        // attached over HTTP, as an orchestrator would
        HttpResponse<String> r = send(ps, "POST", "/v1/tenant", "application/json",
            JSON.createObjectNode().put("conninfo", pg.conninfo()).toString(), null);
        assertEquals(201, r.statusCode(), r.body());
        JsonNode created = JSON.readTree(r.body());
        assertTrue(created.get("created").asBoolean());
        systemId = created.get("system_id").asText();
        assertEquals(systemId, ps.psql("status").split("\\|")[0], "the tenant the status command shows");
    }

    @AfterAll
    static void tearDown() {
        if (ps != null) {
            ps.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    /** A request; waits for the HTTP listener, which binds after pgwire. */
    static HttpResponse<String> send(TestPageServer s, String method, String path, String contentType, String body,
                                     String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.httpPort() + path))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            } catch (java.net.ConnectException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    static HttpResponse<String> get(String path) throws Exception {
        return send(ps, "GET", path, null, null, null);
    }

    /** The response is {@code status} with a JSON body {"error": ...} holding {@code words}. */
    static void assertError(int status, String words, HttpResponse<String> r) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        JsonNode e = JSON.readTree(r.body());
        assertEquals(1, e.size(), r.body());
        assertTrue(e.get("error").asText().contains(words), r.body());
    }

    @Test
    void statusListsTheTenantAsTheStatusCommandDoes() throws Exception {
        HttpResponse<String> r = get("/v1/status");
        assertEquals(200, r.statusCode());
        JsonNode rows = JSON.readTree(r.body());
        assertEquals(1, rows.size());
        JsonNode row = rows.get(0);
        assertEquals(systemId, row.get("system_id").asText());
        assertEquals(List.of("system_id", "state", "error", "last_valid_lsn", "last_record_lsn", "durable_lsn",
            "consistent_lsn", "primary", "horizon_lsn"), iterable(row));
        assertTrue(!row.get("primary").asText().contains("password"), row.toString());
    }

    static List<String> iterable(JsonNode o) {
        List<String> names = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void oneTenantWithItsMetrics() throws Exception {
        HttpResponse<String> r = get("/v1/tenant/" + systemId);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode t = JSON.readTree(r.body());
        assertEquals(systemId, t.get("system_id").asText());
        JsonNode m = t.get("metrics");
        assertTrue(m.get("pageserver_wal_received_bytes_total").asDouble() > 0, m.toString());
        assertTrue(m.has("pageserver_getpage_requests_total{result=\"ok\"}"), m.toString());
        assertTrue(m.has("pageserver_getpage_seconds_count"), m.toString());
        assertTrue(m.get("pageserver_disk_bytes").asDouble() > 0, m.toString());
    }

    @Test
    void unknownAndMalformedTenants() throws Exception {
        assertError(404, "unknown system_id 12345", get("/v1/tenant/12345"));
        assertError(400, "invalid system_id \"x1\"", get("/v1/tenant/x1"));
        assertError(404, "no such route", get("/v1/tenants"));
        assertError(404, "no such route", get("/v1/tenant/"));
    }

    @Test
    void attachingAgainIsHarmlessAndBadBodiesAre400() throws Exception {
        HttpResponse<String> again = send(ps, "POST", "/v1/tenant", "application/json",
            JSON.createObjectNode().put("conninfo", pg.conninfo()).toString(), null);
        assertEquals(200, again.statusCode(), again.body());
        assertEquals(systemId, JSON.readTree(again.body()).get("system_id").asText());
        assertTrue(!JSON.readTree(again.body()).get("created").asBoolean());

        assertError(400, "malformed JSON at line 1", send(ps, "POST", "/v1/tenant", "application/json",
            "{\"conninfo\": ", null));
        assertError(400, "\"conninfo\" must be a non-empty string", send(ps, "POST", "/v1/tenant", "application/json",
            "{\"conninfo\": 5}", null));
        assertError(400, "unknown field \"slot\"", send(ps, "POST", "/v1/tenant", "application/json",
            "{\"conninfo\": \"host=x\", \"slot\": \"s\"}", null));
        assertError(415, "application/json", send(ps, "POST", "/v1/tenant", "text/plain", "host=x", null));
        assertError(413, "at most", send(ps, "POST", "/v1/tenant", "application/json",
            "{\"conninfo\": \"" + "x".repeat(70_000) + "\"}", null));
        // nobody listens there: the primary cannot be reached
        assertError(502, "cannot connect to the primary", send(ps, "POST", "/v1/tenant", "application/json",
            JSON.createObjectNode().put("conninfo", "host=127.0.0.1 port=" + PgCluster.freePort()
                + " user=postgres connect_timeout=2").toString(), null));
    }

    @Test
    void wrongMethodsAre405WithAllow() throws Exception {
        HttpResponse<String> put = send(ps, "PUT", "/metrics", null, null, null);
        assertError(405, "method PUT is not allowed", put);
        assertEquals("GET", put.headers().firstValue("Allow").orElse(""));
        assertError(405, "use POST", send(ps, "GET", "/v1/tenant", null, null, null));
        assertError(405, "use GET", send(ps, "POST", "/v1/status", "application/json", "{}", null));
        assertError(405, "use GET", send(ps, "POST", "/v1/health", "application/json", "{}", null));
        assertError(405, "use POST", send(ps, "GET", "/v1/tenant/" + systemId + "/detach", null, null, null));
    }

    @Test
    void detachingAnUnknownTenantIs404() throws Exception {
        assertError(404, "unknown system_id 42", send(ps, "DELETE", "/v1/tenant/42", null, null, null));
        assertError(404, "unknown system_id 42", send(ps, "POST", "/v1/tenant/42/detach", null, null, null));
    }

    @Test
    void healthIs200WhileTheListenerAndTheStoresAreOpen() throws Exception {
        HttpResponse<String> r = get("/v1/health");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("ok", JSON.readTree(r.body()).get("status").asText());
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void scramUsersAuthenticateWithHttpBasic() throws Exception {
        Map<String, Object> conf = Map.of(
            "pageserver.auth.method", "scram-sha-256",
            "pageserver.auth.users.alice", Scram.Secret.build("alice secret").toString(),
            "pageserver.auth.users.bob", Scram.Secret.build("bob secret").toString(),
            "pageserver.auth.tenants.alice", List.of("*"),
            "pageserver.auth.tenants.bob", List.of("12345"));
        try (TestPageServer s = TestPageServer.start(tmp.resolve("auth"), conf)) {
            HttpResponse<String> none = send(s, "GET", "/metrics", null, null, null);
            assertError(401, "authentication required", none);
            assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic realm=\"pageserver\""),
                none.headers().toString());
            assertError(401, "password authentication failed for user \"alice\"",
                send(s, "GET", "/metrics", null, null, basic("alice", "wrong")));
            assertError(401, "password authentication failed for user \"mallory\"",
                send(s, "GET", "/v1/status", null, null, basic("mallory", "x")));
            assertError(401, "authentication required",
                send(s, "GET", "/v1/status", null, null, "Bearer abc"));
            // bob may read one tenant: not every tenant's metrics, not attach
            assertError(403, "granted \"*\"", send(s, "GET", "/metrics", null, null, basic("bob", "bob secret")));
            assertError(403, "permission denied for tenant 999", send(s, "GET", "/v1/tenant/999", null, null,
                basic("bob", "bob secret")));
            assertError(403, "granted \"*\"", send(s, "POST", "/v1/tenant", "application/json",
                "{\"conninfo\": \"host=x\"}", basic("bob", "bob secret")));
            assertEquals("[]", send(s, "GET", "/v1/status", null, null, basic("bob", "bob secret")).body());
            assertError(404, "unknown system_id 12345", send(s, "GET", "/v1/tenant/12345", null, null,
                basic("bob", "bob secret")));
            // the health check needs no credentials (a load balancer's probe)
            assertEquals(200, send(s, "GET", "/v1/health", null, null, null).statusCode());

            HttpResponse<String> ok = send(s, "GET", "/metrics", null, null, basic("alice", "alice secret"));
            assertEquals(200, ok.statusCode(), ok.body());
            PrometheusText t = PrometheusText.parse(ok.body());
            assertEquals(2, t.value("pageserver_auth_failures_total", Map.of("listener", "http")),
                "a wrong password and an unknown user (no credentials, or not Basic ones, are no failure)");
        }
    }
}
