package org.pageserver.mount;

import java.io.IOException;
import org.pageserver.protocol.RelTag;

/**
 * Where the lower layer's blocks come from: the pageserver as of the clone's LSN
 * ({@link PageServerSource}), or, in tests, plain files.
 */
public interface PageSource extends AutoCloseable {
    /**
     * Reads blocks {@code first .. first + count - 1} of {@code rel} into {@code dst} from
     * {@code dstOff}, 8192 bytes each.
     *
     * @param limit the fork's size in blocks: read-ahead never asks beyond it
     * @throws IOException when a block cannot be had: the compute gets EIO, never wrong data
     */
    void read(RelTag rel, long first, int count, long limit, byte[] dst, int dstOff) throws IOException;

    @Override
    void close() throws IOException;
}
