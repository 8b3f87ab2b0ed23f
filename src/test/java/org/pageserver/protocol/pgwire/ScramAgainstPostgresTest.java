package org.pageserver.protocol.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SCRAM-SHA-256 and MD5 checked against a real PostgreSQL 15 (see {@link RealPostgres} for how
 * it is started: pg_hba "md5" for TCP, which means SCRAM for roles with a SCRAM secret and MD5
 * for roles with an MD5 hash; password_encryption=scram-sha-256). Roles are created with
 * {@code CREATE ROLE ... PASSWORD U&'...'} so that non-ASCII passwords travel through psql as
 * ASCII; PostgreSQL's own verifiers are read back with {@code SELECT rolpassword FROM pg_authid}.
 */
class ScramAgainstPostgresTest {

    static RealPostgres pg;

    /** role name, password, the same password as a U&'' literal body. */
    record Role(String name, String password, String unicodeLiteral) {
    }

    static final List<Role> ROLES = List.of(
            new Role("r_ascii", "pencil", "pencil"),
            new Role("r_umlaut", "p\u00E4ssw\u00F6rd", "p\\00E4ssw\\00F6rd"),
            new Role("r_decomposed", "cafe\u0301", "cafe\\0301"),          // NFKC composes
            new Role("r_nbsp", "a\u00A0b", "a\\00A0b"),                    // mapped to space
            new Role("r_roman", "\u2168x", "\\2168x"),                      // NFKC: IXx
            new Role("r_prohibited", "\u00E9\u0007", "\\00E9\\0007"),       // SASLprep fails: raw
            new Role("r_bidi", "\u05D0a", "\\05D0a"),                       // bidi check fails: raw
            new Role("r_empty_after_map", "\u00AD", "\\00AD"));             // empty after mapping: raw

    @BeforeAll
    static void startPostgres() throws Exception {
        Assumptions.assumeTrue(RealPostgres.available(), "PostgreSQL 15 binaries not installed");
        pg = RealPostgres.start("md5", "scram-sha-256");
        for (Role r : ROLES) {
            pg.psql("CREATE ROLE " + r.name() + " LOGIN PASSWORD U&'" + r.unicodeLiteral() + "'");
        }
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static Scram.Secret pgSecret(String role) throws Exception {
        return Scram.Secret.parse(pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = '" + role + "'"));
    }

    static Map<String, String> login(String user) {
        return Map.of("user", user, "database", "postgres");
    }

    @Test
    void ourVerifierMakerReproducesPostgresSecretsExactly() throws Exception {
        for (Role r : ROLES) {
            Scram.Secret theirs = pgSecret(r.name());
            Scram.Secret ours = Scram.Secret.build(r.password(), theirs.salt(), theirs.iterations());
            assertEquals(theirs.toString(), ours.toString(), r.name());
            assertTrue(theirs.verifyPlainPassword(r.password()), r.name());
            assertFalse(theirs.verifyPlainPassword(r.password() + "x"), r.name());
        }
    }

    @Test
    void ourServerSideAcceptsPasswordsAgainstPostgresSecrets() throws Exception {
        for (Role r : ROLES) {
            Scram.Secret theirs = pgSecret(r.name());
            Scram.Client c = new Scram.Client(r.password());
            Scram.ServerExchange s = Scram.ServerExchange.forSecret(theirs);
            Scram.Outcome o = s.handleClientFinal(c.clientFinalMessage(s.handleClientFirst(c.clientFirstMessage())));
            assertTrue(o.success(), r.name());
            c.verifyServerFinal(o.serverFinalMessage());

            Scram.Client wrong = new Scram.Client(r.password() + "!");
            Scram.ServerExchange s2 = Scram.ServerExchange.forSecret(theirs);
            assertFalse(s2.handleClientFinal(wrong.clientFinalMessage(
                    s2.handleClientFirst(wrong.clientFirstMessage()))).success(), r.name());
        }
    }

    @Test
    void ourClientLogsIntoPostgres() throws Exception {
        for (Role r : ROLES) {
            try (RawPgClient c = new RawPgClient("127.0.0.1", pg.port)) {
                c.login(login(r.name()), r.password()); // includes the server signature check
                assertEquals("UTF8", c.parameterStatus.get("server_encoding"));
            }
            try (RawPgClient c = new RawPgClient("127.0.0.1", pg.port)) {
                RawPgClient.ServerError e = assertThrows(RawPgClient.ServerError.class,
                        () -> c.login(login(r.name()), r.password() + "x"));
                assertEquals(SqlState.INVALID_PASSWORD, e.error.sqlState());
                assertEquals("password authentication failed for user \"" + r.name() + "\"", e.error.message());
            }
        }
    }

    @Test
    void postgresAcceptsSecretsMadeByUs() throws Exception {
        Scram.Secret ours = Scram.Secret.build("made by pageserver \u00E4");
        pg.psql("CREATE ROLE r_ours LOGIN PASSWORD '" + ours + "'");
        assertEquals(ours.toString(), pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'r_ours'"));
        try (RawPgClient c = new RawPgClient("127.0.0.1", pg.port)) {
            c.login(login("r_ours"), "made by pageserver \u00E4");
        }
        // and libpq (psql) logs in with it too
        Scram.Secret ascii = Scram.Secret.build("libpq-pw");
        pg.psql("CREATE ROLE r_ours_libpq LOGIN PASSWORD '" + ascii + "'");
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p",
                String.valueOf(pg.port), "-U", "r_ours_libpq", "-d", "postgres", "-c", "select current_user")
                .redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", "libpq-pw");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals("r_ours_libpq", out.strip());
    }

    @Test
    void md5AsPostgresStoresAndVerifiesIt() throws Exception {
        pg.psql("SET password_encryption = 'md5'; CREATE ROLE r_md5 LOGIN PASSWORD 'md5-secret'");
        assertEquals(Md5Password.encrypt("md5-secret", "r_md5"),
                pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'r_md5'"));
        try (RawPgClient c = new RawPgClient("127.0.0.1", pg.port)) {
            c.login(login("r_md5"), "md5-secret"); // answers AuthenticationMD5Password
        }
        try (RawPgClient c = new RawPgClient("127.0.0.1", pg.port)) {
            assertEquals(SqlState.INVALID_PASSWORD, assertThrows(RawPgClient.ServerError.class,
                    () -> c.login(login("r_md5"), "wrong")).error.sqlState());
        }
    }
}
