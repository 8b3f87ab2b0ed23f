package org.pageserver.http;

import java.util.Optional;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.BasicHttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.pageserver.metrics.Metrics;
import org.pageserver.protocol.SystemId;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.server.Sessions;
import org.pageserver.streams.pgwire.Authenticator;

/**
 * The pgwire port's users on the HTTP listener: with {@code pageserver.auth.method = trust}
 * everybody is let in; otherwise HTTP Basic, the password checked against the user's SCRAM
 * secret (the same check a SCRAM exchange makes: Scram.Secret.verifyPlainPassword), and the
 * user's tenant grants ({@code pageserver.auth.tenants}) decide what it may see. No bearer
 * tokens: the pageserver has no token issuer to check them against.
 */
public final class HttpAuth {
    /** Checked for unknown users, so that a wrong user costs what a wrong password does. */
    private static final Scram.Secret MOCK = Scram.Secret.build("not a password of anybody");

    private final Sessions sessions;
    private final Metrics metrics;

    public HttpAuth(Sessions sessions, Metrics metrics) {
        this.sessions = sessions;
        this.metrics = metrics;
    }

    /** False with trust authentication: {@link #authenticate} then checks nothing and never blocks. */
    boolean checksPasswords() {
        return !(sessions.authenticator().methodFor("", "", null) instanceof Authenticator.Trust);
    }

    /** The user, or 401. Blocking for the time of one PBKDF2 (SCRAM's iteration count). */
    String authenticate(HttpRequest req) {
        Authenticator authenticator = sessions.authenticator();
        Optional<Authorization> header = req.getHeader(Authorization.class);
        BasicHttpCredentials basic = header.map(Authorization::credentials)
            .filter(c -> c instanceof BasicHttpCredentials).map(c -> (BasicHttpCredentials) c).orElse(null);
        String user = basic == null ? "" : basic.username();
        Authenticator.Method method = authenticator.methodFor(user, "", null);
        if (method instanceof Authenticator.Trust) {
            return user;
        }
        if (basic == null) {
            throw unauthorized("authentication required: HTTP Basic with a pageserver.auth.users user");
        }
        boolean ok;
        if (method instanceof Authenticator.ScramSha256 s) {
            ok = s.secret().verifyPlainPassword(basic.password());
        } else {
            MOCK.verifyPlainPassword(basic.password());
            ok = false;
        }
        if (!ok) {
            metrics.httpAuthFailed();
            throw unauthorized("password authentication failed for user \"" + user + "\"");
        }
        return user;
    }

    boolean mayRead(String user, SystemId id) {
        return sessions.mayRead(user, id);
    }

    void requireRead(String user, SystemId id) {
        if (!sessions.mayRead(user, id)) {
            throw new ApiError(StatusCodes.FORBIDDEN, "permission denied for tenant " + id + " to user \"" + user + "\"");
        }
    }

    /** Every tenant: the metrics of all of them, and attaching new ones. */
    void requireAll(String user) {
        if (!sessions.mayReadAll(user)) {
            throw new ApiError(StatusCodes.FORBIDDEN,
                "permission denied: this needs a user granted \"*\" in pageserver.auth.tenants");
        }
    }

    private static ApiError unauthorized(String message) {
        return new ApiError(StatusCodes.UNAUTHORIZED, message,
            WWWAuthenticate.create(HttpChallenge.createBasic("pageserver")));
    }
}
