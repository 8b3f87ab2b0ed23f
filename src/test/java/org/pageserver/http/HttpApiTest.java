package org.pageserver.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.junit.jupiter.api.Test;

/** The body of POST /v1/tenant and the system_id of a path, with bad input. */
class HttpApiTest {
    @Test
    void takesExactlyAConninfoString() {
        assertEquals("host=db1 user=r", HttpApi.conninfo("{\"conninfo\": \"host=db1 user=r\"}"));
        assertEquals("postgresql://a\"b@h/", HttpApi.conninfo("{\"conninfo\":\"postgresql://a\\\"b@h/\"}"));
    }

    @Test
    void refusesBadBodiesWith400() {
        for (String body : new String[] {"", "{", "{\"conninfo\": 3}", "[\"host=x\"]", "\"host=x\"", "{\"conninfo\": \"\"}",
            "{\"conninfo\": \"host=x\", \"slot\": \"y\"}", "{\"conninfo\": null}", "{} {}", "nul", "{\"conninfo\": \"host=x\"} x"}) {
            ApiError e = assertThrows(ApiError.class, () -> HttpApi.conninfo(body), body);
            assertEquals(StatusCodes.BAD_REQUEST, e.status(), body);
        }
        ApiError e = assertThrows(ApiError.class, () -> HttpApi.conninfo("{\"conninfo\": \"x\""));
        assertTrue(e.getMessage().startsWith("malformed JSON at line 1, column "), e.getMessage());
    }

    @Test
    void systemIdsAreUnsignedDecimals() {
        assertEquals("18446744073709551615", HttpApi.systemId("18446744073709551615").toString());
        for (String bad : new String[] {"abc", "-1", "18446744073709551616", "1/2"}) {
            assertEquals(StatusCodes.BAD_REQUEST, assertThrows(ApiError.class, () -> HttpApi.systemId(bad)).status());
        }
    }
}
