package org.pageserver.http;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;

/**
 * The HTTP listener ({@code pageserver.http-listen}) on Pekko HTTP: the same actor system and
 * Streams as the rest of the server (a slow client is backpressured like a pgwire one), and no
 * second framework. Unbound with the pgwire listener in CoordinatedShutdown's service-unbind
 * phase.
 */
public final class HttpListener {
    private HttpListener() {
    }

    /** {@code host:port} from {@code pageserver.http-listen}, or empty for {@code off}. */
    public record Address(String host, int port) {
        public static Optional<Address> fromConfig(Config root) {
            String v = root.getString("pageserver.http-listen").trim();
            if (v.equals("off")) {
                return Optional.empty();
            }
            int colon = v.lastIndexOf(':');
            int port;
            try {
                port = colon <= 0 ? -1 : Integer.parseInt(v.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("pageserver.http-listen must be host:port or off, got \"" + v + "\"");
            }
            return Optional.of(new Address(v.substring(0, colon), port));
        }
    }

    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, Address address, HttpApi api) {
        return Http.get(system).newServerAt(address.host(), address.port()).bind(api)
            .thenApply(b -> b.addToCoordinatedShutdown(Duration.ofSeconds(5), system));
    }
}
