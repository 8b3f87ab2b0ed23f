package org.pageserver.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethod;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Allow;
import org.apache.pekko.stream.Materializer;
import org.pageserver.Errors;
import org.pageserver.metrics.Metrics;
import org.pageserver.metrics.TenantMetrics;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.SystemId;
import org.pageserver.tenant.TenantSupervisor;
import org.pageserver.tenant.Tenants;

/**
 * The routes of the HTTP listener, one request handler (no routing DSL: each path answers
 * every method itself, so a wrong method is a JSON 405 with Allow, like every other error):
 *
 * <pre>
 *   GET    /metrics               Prometheus text format
 *   GET    /v1/status             the status rows, JSON
 *   GET    /v1/tenant/{system_id} one status row and the tenant's metrics
 *   POST   /v1/tenant             {"conninfo": "..."}: what callmemaybe does
 *   POST   /v1/tenant/{system_id}/detach  stop serving it, keeping its data for a later attach
 *   DELETE /v1/tenant/{system_id} detach and delete: its data, and its slot on the primary
 *   GET    /v1/health             200 when the listener and every tenant store are open, else 503
 * </pre>
 *
 * Errors are {@code {"error": "..."}} with 400 (bad input), 401 (credentials), 403 (a user
 * without the grant), 404, 405, 409 (a tenant being attached or detached), 413, 415, 502
 * (the primary could not be reached or imported) or 503. Authentication and authorization are pgwire's ({@link HttpAuth}).
 */
public final class HttpApi implements org.apache.pekko.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> {
    static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);
    /** callmemaybe may import a whole base backup before it answers. */
    static final Duration CALLMEMAYBE_TIMEOUT = Duration.ofHours(6);
    static final long MAX_BODY_BYTES = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper()
        .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final ContentType PROMETHEUS_TEXT = ContentTypes.parse(Metrics.TEXT_CONTENT_TYPE);
    private static final String TENANT_PREFIX = "/v1/tenant/";
    private static final String DETACH_SUFFIX = "/detach";

    private final ActorSystem<?> system;
    private final ActorRef<Tenants.Command> tenants;
    private final Metrics metrics;
    private final HttpAuth auth;
    private final BooleanSupplier listening;
    private final Executor blocking;

    /**
     * @param listening whether the pgwire listener is bound (false once shutdown has unbound it)
     * @param blocking  where the scrape runs (it reads the stores' sizes from disk)
     */
    public HttpApi(ActorSystem<?> system, ActorRef<Tenants.Command> tenants, Metrics metrics, HttpAuth auth,
                   BooleanSupplier listening, Executor blocking) {
        this.system = system;
        this.tenants = tenants;
        this.metrics = metrics;
        this.auth = auth;
        this.listening = listening;
        this.blocking = blocking;
    }

    @Override
    public CompletionStage<HttpResponse> apply(HttpRequest req) {
        if (req.getUri().path().equals("/v1/health")) {
            return route(req, null);
        }
        if (!auth.checksPasswords()) {
            return route(req, auth.authenticate(req));
        }
        // a password check is a PBKDF2 of the SCRAM secret's iterations: on the blocking pool,
        // not on the dispatcher's threads
        return CompletableFuture.supplyAsync(() -> auth.authenticate(req), blocking)
            .thenCompose(user -> route(req, user))
            .exceptionally(e -> {
                Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                    ? e.getCause() : e;
                if (cause instanceof ApiError a) {
                    req.discardEntityBytes(system);
                    return a.response();
                }
                return json(StatusCodes.INTERNAL_SERVER_ERROR, error(Errors.rootMessage(cause)));
            });
    }

    /** {@code user}: who authenticated (null for the health check, which needs nobody). */
    private CompletionStage<HttpResponse> route(HttpRequest req, String user) {
        String path = req.getUri().path();
        HttpMethod method = req.method();
        try {
            switch (path) {
                case "/v1/health":
                    return only(method, HttpMethods.GET, this::health);
                case "/metrics":
                    return only(method, HttpMethods.GET, () -> scrape(user));
                case "/v1/status":
                    return only(method, HttpMethods.GET, () -> status(user));
                case "/v1/tenant":
                    return only(method, HttpMethods.POST, () -> attach(user, req));
                default:
                    break;
            }
            if (path.startsWith(TENANT_PREFIX) && path.endsWith(DETACH_SUFFIX)
                && path.length() > TENANT_PREFIX.length() + DETACH_SUFFIX.length()) {
                SystemId id = systemId(path.substring(TENANT_PREFIX.length(), path.length() - DETACH_SUFFIX.length()));
                return only(method, HttpMethods.POST, () -> detach(user, id, false));
            }
            if (path.startsWith(TENANT_PREFIX) && path.length() > TENANT_PREFIX.length()) {
                SystemId id = systemId(path.substring(TENANT_PREFIX.length()));
                if (method.equals(HttpMethods.DELETE)) {
                    return detach(user, id, true);
                }
                return only(method, HttpMethods.GET, () -> tenant(user, id));
            }
            throw new ApiError(StatusCodes.NOT_FOUND, "no such route: " + path);
        } catch (ApiError e) {
            req.discardEntityBytes(system);
            return CompletableFuture.completedFuture(e.response());
        }
    }

    private CompletionStage<HttpResponse> only(HttpMethod actual, HttpMethod allowed,
                                               java.util.function.Supplier<CompletionStage<HttpResponse>> route) {
        if (!actual.equals(allowed)) {
            throw new ApiError(StatusCodes.METHOD_NOT_ALLOWED, "method " + actual.name() + " is not allowed here (use "
                + allowed.name() + ")", Allow.create(allowed));
        }
        return route.get().exceptionally(e -> {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                ? e.getCause() : e;
            return cause instanceof ApiError a ? a.response()
                : json(StatusCodes.INTERNAL_SERVER_ERROR, error(Errors.rootMessage(cause)));
        });
    }

    private CompletionStage<HttpResponse> health() {
        if (!listening.getAsBoolean()) {
            return done(json(StatusCodes.SERVICE_UNAVAILABLE, error("the pgwire listener is not open")));
        }
        for (TenantMetrics t : metrics.tenants()) {
            if (t.store().isPresent() && !t.store().get().isOpen()) {
                return done(json(StatusCodes.SERVICE_UNAVAILABLE,
                    error("the store of tenant " + t.systemId() + " is closed")));
            }
        }
        ObjectNode ok = JSON.createObjectNode().put("status", "ok");
        return done(json(StatusCodes.OK, ok));
    }

    private CompletionStage<HttpResponse> scrape(String user) {
        auth.requireAll(user);
        return CompletableFuture.supplyAsync(() -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
            try {
                metrics.writeText(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return HttpResponse.create().withStatus(StatusCodes.OK).withEntity(PROMETHEUS_TEXT, out.toByteArray());
        }, blocking);
    }

    private CompletionStage<HttpResponse> status(String user) {
        return AskPattern.<Tenants.Command, List<TenantSupervisor.TenantStatus>>ask(tenants, Tenants.GetStatus::new,
                ASK_TIMEOUT, system.scheduler())
            .thenApply(rows -> {
                ArrayNode a = JSON.createArrayNode();
                for (TenantSupervisor.TenantStatus s : rows) {
                    if (auth.mayRead(user, s.systemId())) {
                        a.add(statusJson(s));
                    }
                }
                return json(StatusCodes.OK, a);
            });
    }

    private CompletionStage<HttpResponse> tenant(String user, SystemId id) {
        auth.requireRead(user, id);
        return AskPattern.<Tenants.Command, Optional<ActorRef<TenantSupervisor.Command>>>ask(tenants,
                r -> new Tenants.GetTenant(id, r), ASK_TIMEOUT, system.scheduler())
            .thenCompose(t -> {
                if (t.isEmpty()) {
                    throw new ApiError(StatusCodes.NOT_FOUND, "unknown system_id " + id + ": no such tenant");
                }
                return AskPattern.<TenantSupervisor.Command, TenantSupervisor.TenantStatus>ask(t.get(),
                    r -> new TenantSupervisor.GetStatus(id, r), ASK_TIMEOUT, system.scheduler());
            })
            .thenApplyAsync(s -> {
                ObjectNode o = statusJson(s);
                o.set("metrics", TenantSummary.of(metrics.snapshot(), id, JSON));
                return json(StatusCodes.OK, o);
            }, blocking);
    }

    /**
     * As Neon's API: DELETE removes the tenant for good (its data, and its slot on the primary
     * when it can be reached), POST .../detach only stops serving it and keeps the data for a
     * later attach. 200 with {"system_id", "deleted", "slot"}; 404 for an unknown tenant, 409
     * while it is being attached or detached.
     */
    private CompletionStage<HttpResponse> detach(String user, SystemId id, boolean delete) {
        auth.requireAll(user);
        return AskPattern.<Tenants.Command, Tenants.DetachReply>ask(tenants,
                r -> new Tenants.Detach(id, delete, r), CALLMEMAYBE_TIMEOUT, system.scheduler())
            .thenApply(r -> {
                if (r instanceof Tenants.Detached ok) {
                    ObjectNode o = JSON.createObjectNode().put("system_id", ok.systemId().toString())
                        .put("deleted", ok.deleted()).put("slot", ok.slot());
                    return json(StatusCodes.OK, o);
                }
                Tenants.DetachFailed f = (Tenants.DetachFailed) r;
                StatusCode code = switch (f.reason()) {
                    case UNKNOWN_TENANT -> StatusCodes.NOT_FOUND;
                    case BUSY -> StatusCodes.CONFLICT;
                    case FAILED -> StatusCodes.INTERNAL_SERVER_ERROR;
                };
                return json(code, error(f.message()));
            });
    }

    private CompletionStage<HttpResponse> attach(String user, HttpRequest req) {
        auth.requireAll(user);
        if (!req.entity().getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
            throw new ApiError(StatusCodes.UNSUPPORTED_MEDIA_TYPE, "the body must be application/json");
        }
        Materializer mat = Materializer.matFromSystem(system);
        return req.entity().withSizeLimit(MAX_BODY_BYTES).toStrict(ASK_TIMEOUT.toMillis(), mat)
            .exceptionally(e -> {
                throw new ApiError(StatusCodes.PAYLOAD_TOO_LARGE, "the body must be at most " + MAX_BODY_BYTES + " bytes");
            })
            .thenCompose(body -> {
                String conninfo = conninfo(body.getData().utf8String());
                return AskPattern.<Tenants.Command, Tenants.CallMeMaybeReply>ask(tenants,
                    r -> new Tenants.CallMeMaybe(conninfo, r), CALLMEMAYBE_TIMEOUT, system.scheduler());
            })
            .thenApply(r -> {
                if (r instanceof Tenants.Following f) {
                    ObjectNode o = JSON.createObjectNode().put("system_id", f.systemId().toString())
                        .put("created", f.created());
                    return json(f.created() ? StatusCodes.CREATED : StatusCodes.OK, o);
                }
                return json(StatusCodes.BAD_GATEWAY, error(((Tenants.CallMeMaybeFailed) r).message()));
            });
    }

    /** The body of POST /v1/tenant: exactly {"conninfo": "<non-empty string>"}. */
    static String conninfo(String body) {
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            // Jackson's message, without the source description it appends
            String what = e.getOriginalMessage().replaceFirst("(?s)\\s*\\(start marker at .*$", "");
            throw new ApiError(StatusCodes.BAD_REQUEST, "malformed JSON at line " + e.getLocation().getLineNr()
                + ", column " + e.getLocation().getColumnNr() + ": " + what);
        }
        if (n == null || !n.isObject()) {
            throw new ApiError(StatusCodes.BAD_REQUEST, "the body must be a JSON object {\"conninfo\": \"...\"}");
        }
        JsonNode c = n.get("conninfo");
        if (c == null || !c.isTextual() || c.asText().isBlank()) {
            throw new ApiError(StatusCodes.BAD_REQUEST, "\"conninfo\" must be a non-empty string");
        }
        n.fieldNames().forEachRemaining(f -> {
            if (!f.equals("conninfo")) {
                throw new ApiError(StatusCodes.BAD_REQUEST, "unknown field \"" + f + "\" (only \"conninfo\" is taken)");
            }
        });
        return c.asText();
    }

    static SystemId systemId(String text) {
        try {
            return SystemId.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ApiError(StatusCodes.BAD_REQUEST, e.getMessage());
        }
    }

    private static ObjectNode statusJson(TenantSupervisor.TenantStatus s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("system_id", s.systemId().toString());
        o.put("state", s.state());
        o.put("error", s.error());
        o.put("last_valid_lsn", lsn(s.lastValidLsn()));
        o.put("last_record_lsn", lsn(s.lastRecordLsn()));
        o.put("durable_lsn", lsn(s.durableLsn()));
        o.put("consistent_lsn", lsn(s.consistentLsn()));
        o.put("primary", s.primary());
        o.put("horizon_lsn", lsn(s.horizonLsn()));
        return o;
    }

    private static String lsn(Lsn l) {
        return l.toString();
    }

    static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    static HttpResponse json(StatusCode status, JsonNode body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
        return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, bytes);
    }

    private static CompletionStage<HttpResponse> done(HttpResponse r) {
        return CompletableFuture.completedFuture(r);
    }
}
