package org.pageserver.protocol.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import org.pageserver.fuzz.FuzzChecks;
import org.pageserver.protocol.pgwire.PgProtocolException;

/**
 * Fuzz targets for the replication protocol: the CopyData payloads of START_REPLICATION
 * (XLogData, keepalive, and the standby status update the server reads from a standby, which
 * re-encodes to the same message), those of BASE_BACKUP's copy stream, and the replication command
 * grammar (a syntax error is a PgProtocolException with its SQLSTATE, 42601 or 22003).
 */
class ReplicationFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void streamingMessage(byte[] input) throws Exception {
        FuzzChecks.boundedAllocation(input.length, () -> {
            ReplicationMessage m;
            try {
                m = ReplicationMessage.parseStreaming(input);
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass(), String.valueOf(e));
                return;
            }
            if (m instanceof ReplicationMessage.StandbyStatusUpdate s) {
                // replyRequested is any non-zero byte, as the walsender reads it: equal as messages, not bytes
                assertEquals(s, ReplicationMessage.parseStreaming(s.toBytes()), "re-encoded " + s);
            }
        });
    }

    @FuzzTest(maxDuration = "60s")
    void baseBackupMessage(byte[] input) throws Exception {
        FuzzChecks.boundedAllocation(input.length, () -> {
            try {
                ReplicationMessage.parseBackup(input);
            } catch (IllegalArgumentException e) {
                assertEquals(IllegalArgumentException.class, e.getClass(), String.valueOf(e));
            }
        });
    }

    @FuzzTest(maxDuration = "60s")
    void command(byte[] input) throws Exception {
        String q = new String(input, StandardCharsets.UTF_8);
        FuzzChecks.boundedAllocation(input.length, () -> {
            ReplicationCommandParser.isReplicationCommand(q);
            try {
                assertNotNull(ReplicationCommandParser.parse(q));
            } catch (PgProtocolException e) {
                assertNotNull(e.sqlState());
            }
        });
    }
}
