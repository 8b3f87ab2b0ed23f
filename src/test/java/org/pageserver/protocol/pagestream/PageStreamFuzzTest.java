package org.pageserver.protocol.pagestream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.pageserver.fuzz.FuzzChecks;

/**
 * Fuzz targets for the pagestream sub-protocol: a request from a compute node is parsed or
 * refused with {@link PageStreamRequest.MalformedRequest}, and a parsed one is written back
 * byte for byte; a response (what the client reads) is parsed or refused with
 * IllegalArgumentException, and re-encodes to the same response.
 */
class PageStreamFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void request(byte[] input) throws Exception {
        FuzzChecks.boundedAllocation(input.length, () -> {
            PageStreamRequest r;
            try {
                r = PageStreamRequest.parse(input);
            } catch (PageStreamRequest.MalformedRequest e) {
                return;
            }
            assertArrayEquals(input, r.write(), "re-encoded " + r);
        });
    }

    @FuzzTest(maxDuration = "60s")
    void response(byte[] input) throws Exception {
        FuzzChecks.boundedAllocation(input.length, () -> {
            PageStreamResponse r;
            try {
                r = PageStreamResponse.parse(input);
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass(), String.valueOf(e));
                return;
            }
            PageStreamResponse again = PageStreamResponse.parse(r.write());
            assertEquals(r.getClass(), again.getClass());
            assertArrayEquals(r.write(), again.write(), "re-encoded " + r);
        });
    }
}
