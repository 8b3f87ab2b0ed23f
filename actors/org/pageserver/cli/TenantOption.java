package org.pageserver.cli;

import org.pageserver.protocol.SystemId;
import picocli.CommandLine.Option;

/** Which tenant a command is about: {@code --system-id}. */
final class TenantOption {
    @Option(names = "--system-id", required = true, converter = Converters.SystemIdValue.class,
        description = "the tenant: its PostgreSQL system identifier")
    SystemId systemId;
}
