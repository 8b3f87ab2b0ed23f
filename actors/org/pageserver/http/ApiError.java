package org.pageserver.http;

import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;

/** A request answered with an error: its status, its {@code {"error": ...}} body, and any headers it needs. */
final class ApiError extends RuntimeException {
    private final StatusCode status;
    private final transient HttpHeader[] headers;

    ApiError(StatusCode status, String message, HttpHeader... headers) {
        super(message, null, false, false);
        this.status = status;
        this.headers = headers;
    }

    StatusCode status() {
        return status;
    }

    HttpResponse response() {
        HttpResponse r = HttpApi.json(status, HttpApi.error(getMessage()));
        return headers.length == 0 ? r : r.addHeaders(java.util.List.of(headers));
    }
}
