package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import org.pageserver.protocol.pgwire.Scram;

/**
 * Decides how a connecting user authenticates (the role of pg_hba.conf plus pg_authid).
 * Called once per connection, on the connection's stream stage: must be quick and not block.
 */
@FunctionalInterface
public interface Authenticator {

    Method methodFor(String user, String database, InetSocketAddress remote);

    /** The outcome of {@link #methodFor}. */
    sealed interface Method permits Trust, ScramSha256, UnknownUser, Reject {
    }

    /** Let the user in without a password. */
    record Trust() implements Method {
    }

    /** SCRAM-SHA-256 against this stored secret. */
    record ScramSha256(Scram.Secret secret) implements Method {
    }

    /**
     * No such user: run a mock SCRAM exchange and then refuse with 28P01 "password
     * authentication failed", as PostgreSQL does, so that user names cannot be probed.
     */
    record UnknownUser() implements Method {
    }

    /** Refuse at once with a FATAL error (e.g. 28000 for a forbidden database). */
    record Reject(String sqlState, String message) implements Method {
    }

    /** Everyone is let in ("trust"). */
    static Authenticator trust() {
        return (user, database, remote) -> new Trust();
    }

    /** SCRAM-SHA-256 for the listed users; anybody else gets the mock exchange and 28P01. */
    static Authenticator scram(Map<String, Scram.Secret> secrets) {
        Map<String, Scram.Secret> copy = Map.copyOf(secrets);
        return (user, database, remote) -> {
            Scram.Secret s = copy.get(user);
            return s != null ? new ScramSha256(s) : new UnknownUser();
        };
    }

    /**
     * From a config section such as
     * <pre>
     *   auth {
     *     method = "scram-sha-256"      # or "trust"
     *     users {
     *       # secrets in PostgreSQL's format: SELECT rolpassword FROM pg_authid, or
     *       # Scram.Secret.build("password").toString()
     *       alice = "SCRAM-SHA-256$4096:c2FsdA==$...:..."
     *     }
     *   }
     * </pre>
     * (pass the {@code auth} section). Plaintext passwords are refused.
     */
    static Authenticator fromConfig(Config auth) {
        String method = auth.hasPath("method") ? auth.getString("method") : "trust";
        switch (method) {
            case "trust":
                return trust();
            case "scram-sha-256": {
                Map<String, Scram.Secret> users = new LinkedHashMap<>();
                if (auth.hasPath("users")) {
                    for (Map.Entry<String, ConfigValue> e : auth.getObject("users").entrySet()) {
                        if (e.getValue().valueType() != ConfigValueType.STRING) {
                            throw new ConfigException.WrongType(e.getValue().origin(),
                                    "auth.users." + e.getKey() + " must be a SCRAM secret string");
                        }
                        String text = (String) e.getValue().unwrapped();
                        try {
                            users.put(e.getKey(), Scram.Secret.parse(text));
                        } catch (IllegalArgumentException ex) {
                            throw new ConfigException.BadValue(e.getValue().origin(), "auth.users." + e.getKey(),
                                    ex.getMessage() + " (plaintext passwords are not accepted; store a SCRAM secret)");
                        }
                    }
                }
                return scram(users);
            }
            default:
                throw new ConfigException.BadValue(auth.origin(), "method",
                        "unknown authentication method \"" + method + "\" (expected trust or scram-sha-256)");
        }
    }
}
