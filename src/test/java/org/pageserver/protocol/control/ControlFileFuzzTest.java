package org.pageserver.protocol.control;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.pageserver.fuzz.FuzzChecks;

/**
 * Fuzz target for the pg_control parser. The CRC of the input is made right first (unless the
 * input is too short to hold one), so that the fuzzer gets past the checksum to every field;
 * the version check still refuses most inputs, so the corpus starts from a real pg_control.
 * Only {@link ControlFileException} may escape; every accessor of a parsed file answers; and the
 * file PostgreSQL would write back parses to the same bytes.
 */
class ControlFileFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] input) throws Exception {
        byte[] file = input.clone();
        if (file.length >= ControlFile.CRC_OFFSET + 4) {
            CRC32C crc = new CRC32C();
            crc.update(file, 0, ControlFile.CRC_OFFSET);
            ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(ControlFile.CRC_OFFSET, (int) crc.getValue());
        }
        FuzzChecks.boundedAllocation(input.length, () -> {
            ControlFile c;
            try {
                c = ControlFile.parse(file);
            } catch (ControlFileException e) {
                return;
            }
            c.systemIdentifier();
            c.catalogVersionNo();
            c.state();
            c.time();
            c.checkPoint();
            c.checkPointCopy();
            c.minRecoveryPoint();
            c.hintBitsLogged();
            c.blcksz();
            c.xlogSegSize();
            byte[] written = c.write();
            assertArrayEquals(written, ControlFile.parse(written).write());
        });
    }
}
