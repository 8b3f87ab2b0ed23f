package org.pageserver.mount;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * What makes a clone's data directory a standby that follows the pageserver: {@code
 * standby.signal}, and a {@code primary_conninfo} appended to postgresql.auto.conf (the last
 * setting of a name wins there, so the primary's own file stays as it was above it). The
 * connection string names the tenant as pg_basebackup and pg_receivewal do, with {@code
 * options='-c system_id=...'}: the pageserver's walsender serves that tenant's stored WAL.
 * Written once, when the clone is made, and forced with its directory before the clone's state
 * file is.
 */
public final class StandbyConfig {
    private StandbyConfig() {
    }

    /** A libpq connection string to the pageserver's replication port for the tenant. */
    public static String primaryConninfo(String host, int port, String user, String password, String systemId) {
        StringBuilder b = new StringBuilder();
        b.append("host=").append(quote(host)).append(" port=").append(port).append(" user=").append(quote(user));
        if (password != null) {
            b.append(" password=").append(quote(password));
        }
        b.append(" options=").append(quote("-c system_id=" + systemId)).append(" application_name=pageserver_clone");
        return b.toString();
    }

    /** A conninfo value in single quotes, its backslashes and quotes escaped as libpq reads them. */
    static String quote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    static void write(Path dataDir, String primaryConninfo) throws IOException {
        Path signal = dataDir.resolve("standby.signal");
        Files.write(signal, new byte[0], StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
        force(signal);
        Path auto = dataDir.resolve("postgresql.auto.conf");
        String line = "# a standby clone made by pageserver mount: it follows the pageserver's stored WAL\n"
            + "primary_conninfo = '" + primaryConninfo.replace("'", "''") + "'\n";
        Files.writeString(auto, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        force(auto);
        force(dataDir);
    }

    private static void force(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
