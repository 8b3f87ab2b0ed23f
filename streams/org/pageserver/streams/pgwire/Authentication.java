package org.pageserver.streams.pgwire;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

import org.apache.pekko.util.ByteString;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASL;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLContinue;
import org.pageserver.protocol.pgwire.BackendMessage.AuthenticationSASLFinal;
import org.pageserver.protocol.pgwire.BackendMessage.NegotiateProtocolVersion;
import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.FrontendMessage.CancelRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.GSSENCRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.PasswordKind;
import org.pageserver.protocol.pgwire.FrontendMessage.SASLInitialResponse;
import org.pageserver.protocol.pgwire.FrontendMessage.SASLResponse;
import org.pageserver.protocol.pgwire.FrontendMessage.SSLRequest;
import org.pageserver.protocol.pgwire.FrontendMessage.StartupMessage;
import org.pageserver.protocol.pgwire.PgFrame;
import org.pageserver.protocol.pgwire.PgMessage;
import org.pageserver.protocol.pgwire.PgProtocolException;
import org.pageserver.protocol.pgwire.Scram;
import org.pageserver.protocol.pgwire.SqlState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection from its first byte to a known user: PostgreSQL's ProcessStartupPacket and
 * ClientAuthentication (postmaster.c, auth.c). Untyped startup packets first (SSLRequest and
 * GSSENCRequest answered 'N', a CancelRequest routed and the connection closed, then the
 * StartupMessage), then the SCRAM-SHA-256 exchange if the {@link Authenticator} asks for one.
 * Exists only until the user is authenticated.
 */
final class Authentication {

    private static final Logger log = LoggerFactory.getLogger(Authentication.class);

    /** Where an authenticated connection goes on. */
    interface Authenticated {
        /** {@code reply} holds what is still to be sent before AuthenticationOk. */
        void authenticated(StartupMessage startup, List<PgMessage> reply);
    }

    private enum Step { STARTUP_PACKET, SASL_INITIAL, SASL_CONTINUE }

    private final Backend backend;
    private final Authenticator authenticator;
    private final ConnectionRegistry registry;
    private final InetSocketAddress remote;
    /** The server has its maximum of connections already: refuse after the startup packet. */
    private final boolean overLimit;
    /** The server's count of failed password authentications (28P01). */
    private final LongAdder passwordFailures;
    private final Authenticated then;
    private Step step = Step.STARTUP_PACKET;
    private StartupMessage startup;
    private Scram.ServerExchange scram;

    Authentication(Backend backend, Authenticator authenticator, ConnectionRegistry registry, InetSocketAddress remote,
                   boolean overLimit, LongAdder passwordFailures, Authenticated then) {
        this.backend = backend;
        this.authenticator = authenticator;
        this.registry = registry;
        this.remote = remote;
        this.overLimit = overLimit;
        this.passwordFailures = passwordFailures;
        this.then = then;
    }

    void onFrame(PgFrame f) {
        switch (step) {
            case STARTUP_PACKET -> onStartupPacket(FrontendMessage.parseStartup(f));
            case SASL_INITIAL -> onSaslInitial(f);
            case SASL_CONTINUE -> onSaslContinue(f);
        }
    }

    private void onStartupPacket(FrontendMessage m) {
        if (m instanceof SSLRequest || m instanceof GSSENCRequest) {
            // No TLS, no GSSAPI encryption: answer 'N'; the client then sends its StartupMessage.
            backend.sendBytes(ByteString.fromArrayUnsafe(new byte[] {'N'}), backend::readNextMessage);
        } else if (m instanceof CancelRequest c) {
            boolean done = registry.cancel(c.processId(), c.secretKey());
            log.debug("cancel request for pid {} from {}: {}", c.processId(), remote,
                    done ? "delivered" : "no matching connection");
            backend.closeConnection();
        } else if (m instanceof StartupMessage s) {
            onStartupMessage(s);
        } else {
            throw PgProtocolException.violation("unexpected startup packet " + m);
        }
    }

    private void onStartupMessage(StartupMessage s) {
        if (overLimit) {
            throw new PgProtocolException(SqlState.TOO_MANY_CONNECTIONS, "too many connections");
        }
        String user = s.user();
        if (user == null || user.isEmpty()) {
            throw new PgProtocolException(SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
                    "no PostgreSQL user name specified in startup packet");
        }
        startup = s;
        List<PgMessage> reply = new ArrayList<>();
        // SendNegotiateProtocolVersion: we speak 3.0 only and know no _pq_ options.
        List<String> unknownOptions = new ArrayList<>();
        for (String k : s.parameters().keySet()) {
            if (k.startsWith("_pq_.")) {
                unknownOptions.add(k);
            }
        }
        if (s.minorVersion() > 0 || !unknownOptions.isEmpty()) {
            reply.add(new NegotiateProtocolVersion(0, unknownOptions));
        }
        Authenticator.Method method = authenticator.methodFor(user, s.database(), remote);
        if (method instanceof Authenticator.Trust) {
            then.authenticated(s, reply);
        } else if (method instanceof Authenticator.ScramSha256 sc) {
            scram = Scram.ServerExchange.forSecret(sc.secret());
            startSasl(reply);
        } else if (method instanceof Authenticator.UnknownUser) {
            scram = Scram.ServerExchange.mock(user);
            startSasl(reply);
        } else if (method instanceof Authenticator.Reject r) {
            throw new PgProtocolException(r.sqlState(), r.message());
        } else {
            throw new IllegalStateException("Authenticator returned " + method);
        }
    }

    private void startSasl(List<PgMessage> reply) {
        reply.add(new AuthenticationSASL(List.of(Scram.SCRAM_SHA_256_NAME)));
        step = Step.SASL_INITIAL;
        backend.send(backend::readNextMessage, reply.toArray(new PgMessage[0]));
    }

    /** False if the client gave up (Terminate); throws unless the frame is a 'p' message. */
    private boolean expectPasswordMessage(PgFrame f) {
        if (f.type() == FrontendMessage.TERMINATE) {
            backend.closeConnection();
            return false;
        }
        if (f.type() != FrontendMessage.PASSWORD) {
            throw PgProtocolException.violation("expected SASL response, got message type " + (f.type() & 0xFF)
                    + " (" + f.describeType() + ")");
        }
        return true;
    }

    private void onSaslInitial(PgFrame f) {
        if (!expectPasswordMessage(f)) {
            return;
        }
        SASLInitialResponse r = (SASLInitialResponse) FrontendMessage.parse(f, PasswordKind.SASL_INITIAL);
        if (!r.mechanism().equals(Scram.SCRAM_SHA_256_NAME)) {
            throw PgProtocolException.violation("client selected an invalid SASL authentication mechanism");
        }
        byte[] serverFirst = scram.handleClientFirst(r.data() == null ? new byte[0] : r.data());
        step = Step.SASL_CONTINUE;
        backend.send(backend::readNextMessage, new AuthenticationSASLContinue(serverFirst));
    }

    private void onSaslContinue(PgFrame f) {
        if (!expectPasswordMessage(f)) {
            return;
        }
        SASLResponse r = (SASLResponse) FrontendMessage.parse(f, PasswordKind.SASL_CONTINUE);
        Scram.Outcome outcome = scram.handleClientFinal(r.data());
        scram = null;
        if (!outcome.success()) {
            // one message whether the user is unknown or the password wrong (the mock exchange
            // fails as a wrong password does, in as much time)
            passwordFailures.increment();
            log.info("password authentication failed for user \"{}\" from {}", startup.user(), remote);
            registry.authenticationFailed();
            throw new PgProtocolException(SqlState.INVALID_PASSWORD,
                    "password authentication failed for user \"" + startup.user() + "\"");
        }
        List<PgMessage> reply = new ArrayList<>();
        reply.add(new AuthenticationSASLFinal(outcome.serverFinalMessage()));
        then.authenticated(startup, reply);
    }
}
