package org.pageserver.streams.pgwire;

import org.pageserver.protocol.pgwire.FrontendMessage;
import org.pageserver.protocol.pgwire.MessageLimits;

/**
 * A COPY sub-protocol in progress ({@link CopyBothMode}, {@link CopyOutMode}). While it is the
 * connection's current one ({@link Backend#enterCopy} to {@link Backend#leaveCopy}) the driver
 * hands it the client's messages, cancel requests and the end of the connection.
 */
interface CopyMode {

    /** Which client messages the copy reads, and how large (in force while it is the current one). */
    MessageLimits messageLimits();

    /** The next client message (read only when the copy asked for one). */
    void onMessage(FrontendMessage m);

    /** A CancelRequest for the connection: stop, answer 57014, leave copy mode. */
    void cancel();

    /** The connection is ending: close the sub-streams, answer nothing. */
    void abandon();
}
