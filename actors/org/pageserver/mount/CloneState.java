package org.pageserver.mount;

import java.io.IOException;
import java.io.StringReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Properties;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;

/**
 * What makes an upper directory a clone's: the tenant and LSN it is a clone of, and whether
 * it was made a standby, in the file {@value #FILE}. Written last when a clone is made (after the minimal base backup is in place
 * and durable), atomically, so an upper directory either has it and is complete, or is not a
 * clone at all. A mount with the same upper directory reads it to resume the clone.
 */
public record CloneState(SystemId systemId, Lsn lsn, boolean standby) {
    public static final String FILE = "pageserver-clone.properties";

    public static Optional<CloneState> read(Path upperDir) throws IOException {
        Path f = upperDir.resolve(FILE);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(f, StandardCharsets.UTF_8)));
        try {
            return Optional.of(new CloneState(SystemId.parse(p.getProperty("system_id", "")),
                Lsn.parse(p.getProperty("lsn", "")), Boolean.parseBoolean(p.getProperty("standby", "false"))));
        } catch (IllegalArgumentException e) {
            throw new IOException(f + " is damaged: " + e.getMessage(), e);
        }
    }

    public void write(Path upperDir) throws IOException {
        Path tmp = upperDir.resolve(FILE + ".tmp");
        String text = "# a clone made by pageserver mount: the tenant and LSN its lower layer is read at\n"
            + "system_id=" + systemId + "\nlsn=" + lsn + "\nstandby=" + standby + "\n";
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, upperDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel ch = FileChannel.open(upperDir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
