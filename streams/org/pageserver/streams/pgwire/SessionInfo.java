package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.util.Map;

/**
 * Who connected: the authenticated user, the database and application_name from the startup
 * packet (database defaults to the user), the peer address, every startup parameter as sent,
 * and the process id this connection reported in BackendKeyData.
 */
public record SessionInfo(String user, String database, String applicationName, InetSocketAddress remoteAddress,
                          Map<String, String> parameters, int processId) {
    public SessionInfo {
        parameters = Map.copyOf(parameters);
    }
}
