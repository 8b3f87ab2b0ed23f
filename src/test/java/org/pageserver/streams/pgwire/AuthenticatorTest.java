package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.pageserver.protocol.pgwire.Scram;

class AuthenticatorTest {

    @Test
    void fromConfig() {
        Scram.Secret s = Scram.Secret.build("pw");
        Authenticator a = Authenticator.fromConfig(ConfigFactory.parseString(
                "method = scram-sha-256\nusers { alice = \"" + s + "\", \"we.ird\" = \"" + s + "\" }"));
        Authenticator.ScramSha256 m = assertInstanceOf(Authenticator.ScramSha256.class, a.methodFor("alice", "db", null));
        assertEquals(s, m.secret());
        assertInstanceOf(Authenticator.ScramSha256.class, a.methodFor("we.ird", "db", null));
        assertInstanceOf(Authenticator.UnknownUser.class, a.methodFor("bob", "db", null));

        assertInstanceOf(Authenticator.Trust.class,
                Authenticator.fromConfig(ConfigFactory.parseString("method = trust")).methodFor("x", "y", null));
        assertInstanceOf(Authenticator.Trust.class,
                Authenticator.fromConfig(ConfigFactory.empty()).methodFor("x", "y", null));
    }

    @Test
    void badConfig() {
        assertThrows(ConfigException.BadValue.class,
                () -> Authenticator.fromConfig(ConfigFactory.parseString("method = md5")));
        ConfigException.BadValue plain = assertThrows(ConfigException.BadValue.class, () -> Authenticator.fromConfig(
                ConfigFactory.parseString("method = scram-sha-256\nusers { alice = hunter2 }")));
        assertTrue(plain.getMessage().contains("plaintext passwords are not accepted"), plain.getMessage());
        assertThrows(ConfigException.WrongType.class, () -> Authenticator.fromConfig(
                ConfigFactory.parseString("method = scram-sha-256\nusers { alice = 5 }")));
    }
}
