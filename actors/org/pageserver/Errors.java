package org.pageserver;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/** Turning failures into the one line an operator or a client sees. */
public final class Errors {
    private Errors() {
    }

    /** The message of the real cause, unwrapped from future wrappers. */
    public static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && (c instanceof CompletionException || c instanceof ExecutionException)) {
            c = c.getCause();
        }
        if (c instanceof TimeoutException) {
            return "the pageserver did not answer in time";
        }
        return c.getMessage() != null ? c.getMessage() : c.toString();
    }
}
