package org.pageserver.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.tenant.TenantSupervisor.TenantStatus;

class ReplicationSessionTest {

    static TenantStatus tenant(long id) {
        return new TenantStatus(new SystemId(id), "streaming", Lsn.INVALID, Lsn.INVALID, Lsn.INVALID, Lsn.INVALID,
            "", null, Lsn.INVALID);
    }

    @Test
    void theOnlyTenantOrTheOneNamed() {
        assertEquals(new SystemId(7), ReplicationSession.choose(List.of(tenant(7)), null).systemId());
        assertEquals(new SystemId(8), ReplicationSession.choose(List.of(tenant(7), tenant(8)), new SystemId(8))
            .systemId());
    }

    @Test
    void noTenantSeveralOrAnUnknownOneAreClearErrors() {
        PgProtocolException several = assertThrows(PgProtocolException.class,
            () -> ReplicationSession.choose(List.of(tenant(7), tenant(8)), null));
        assertEquals("22023", several.sqlState());
        assertEquals("the pageserver has 2 tenants (7, 8): choose one with PGOPTIONS='-c system_id=<id>'",
            several.getMessage());
        PgProtocolException none = assertThrows(PgProtocolException.class,
            () -> ReplicationSession.choose(List.of(), null));
        assertEquals("the pageserver has no tenant (run callmemaybe first)", none.getMessage());
        PgProtocolException unknown = assertThrows(PgProtocolException.class,
            () -> ReplicationSession.choose(List.of(tenant(7)), new SystemId(9)));
        assertEquals("42704", unknown.sqlState());
        assertEquals("unknown system_id 9: no such tenant (run callmemaybe first)", unknown.getMessage());
    }

    @Test
    void walSegmentSizeAsPostgresShowsIt() {
        assertEquals("16MB", ReplicationSession.walSegmentSize(16 << 20));
        assertEquals("1GB", ReplicationSession.walSegmentSize(1 << 30));
        assertEquals("1MB", ReplicationSession.walSegmentSize(1 << 20));
    }
}
