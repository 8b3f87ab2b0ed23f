package org.pageserver.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/** The strict test reader of the text format, on the client's own output and on broken text. */
class PrometheusTextTest {

    @Test
    void readsTheClientsOutputWithEscapedLabels() throws Exception {
        Metrics m = Metrics.detached();
        TenantMetrics t = m.tenant(new SystemId(42));
        t.getPage(GetPageResult.OK, 30_000);
        t.getPage(GetPageResult.NOT_FOUND, 10_000_000);
        t.walStored(100, 2, new Lsn(0x1000));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        m.writeText(out);
        PrometheusText p = PrometheusText.parse(out.toString(StandardCharsets.UTF_8));
        assertEquals(2, p.value("pageserver_getpage_seconds_count", Map.of("system_id", "42")));
        assertEquals(1, p.value("pageserver_getpage_requests_total", Map.of("system_id", "42", "result", "not_found")));
        assertEquals(0x1000, p.value("pageserver_durable_lsn", Map.of("system_id", "42")));
        assertEquals("histogram", p.types().get("pageserver_getpage_seconds"));

        PrometheusText esc = PrometheusText.parse("# TYPE a gauge\na{x=\"q\\\"\\\\\\n\"} 1.5e3 1700000000\n");
        assertEquals(1500, esc.value("a", Map.of("x", "q\"\\\n")));
    }

    @Test
    void aForgottenTenantLeavesTheExpositionAndTheOthersStay() throws Exception {
        Metrics m = Metrics.detached();
        m.tenant(new SystemId(42)).getPage(GetPageResult.OK, 30_000);
        m.tenant(new SystemId(43)).getPage(GetPageResult.OK, 30_000);
        m.forget(new SystemId(42));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        m.writeText(out);
        PrometheusText p = PrometheusText.parse(out.toString(StandardCharsets.UTF_8));
        assertTrue(p.samples().stream().noneMatch(s -> "42".equals(s.labels().get("system_id"))),
            out.toString(StandardCharsets.UTF_8));
        assertEquals(1, p.value("pageserver_getpage_requests_total", Map.of("system_id", "43", "result", "ok")));
        assertEquals(List.of(new SystemId(43)), m.tenants().stream().map(t -> SystemId.parse(t.systemId())).toList());
    }

    @Test
    void refusesWhatTheFormatForbids() {
        for (String bad : new String[] {
            "a 1",                                       // no final newline
            "1a 1\n",                                    // metric name
            "a{1x=\"v\"} 1\n",                           // label name
            "a{x=v} 1\n",                                // unquoted label value
            "a{x=\"\\t\"} 1\n",                          // unknown escape
            "a{x=\"v\"\n",                               // unterminated label set
            "a one\n",                                   // value
            "a 1 2 3\n",                                 // too many fields
            "a 1 1.5\n",                                 // timestamp
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",     // second TYPE
            "a 1\n# TYPE a gauge\n",                     // TYPE after samples
            "# TYPE a wrong\na 1\n",                     // type
            "a 1\nb 1\na{x=\"1\"} 2\n",                  // family split
            "a 1\na 2\n",                                // duplicate series
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n", // not cumulative
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n",                          // no +Inf
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 1\n",                       // +Inf != count
        }) {
            assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse(bad), bad);
        }
    }
}
