package org.pageserver.cli;

import java.util.Properties;
import picocli.CommandLine.Option;

/** Where the pageserver is and who we are to it: the options every client command shares. */
final class ConnectionOptions {
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "pageserver host (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "6400", description = "pageserver pgwire port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--user", defaultValue = "postgres", description = "user name (default: ${DEFAULT-VALUE})")
    String user;

    @Option(names = "--password", description = "password (default: $PGPASSWORD)")
    String password;

    String url() {
        return "jdbc:postgresql://" + host + ":" + port + "/postgres";
    }

    String password() {
        return password != null ? password : System.getenv("PGPASSWORD");
    }

    /** pgjdbc settings for a server that speaks only the simple query protocol's commands. */
    Properties properties() {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password() != null) {
            p.setProperty("password", password());
        }
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("assumeMinServerVersion", "15");
        p.setProperty("ApplicationName", "pageserver-cli");
        return p;
    }
}
