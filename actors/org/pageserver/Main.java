package org.pageserver;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.pageserver.engine.StoreOpens;
import org.pageserver.tenant.ReplicationBootstrap;

/**
 * {@code java -jar target/pageserver.jar}: reads {@code application.conf} (or
 * {@code -Dconfig.file}), starts the actor system and the pgwire listener, and runs until
 * SIGTERM, when Pekko's coordinated shutdown unbinds the listener and closes every tenant.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // Library code (Scala's future converters among it) runs continuations on the common
        // pool; on a 2-core machine that pool has parallelism 1 and CompletableFuture then
        // starts a thread per task. Two workers at least, unless the operator chose.
        if (System.getProperty("java.util.concurrent.ForkJoinPool.common.parallelism") == null) {
            System.setProperty("java.util.concurrent.ForkJoinPool.common.parallelism",
                String.valueOf(Math.max(2, Runtime.getRuntime().availableProcessors() - 1)));
        }
        if (args.length > 0) {
            System.exit(org.pageserver.cli.Cli.run(args, System.out, System.err));
        }
        // Unpacking and loading RocksDB's native library takes 1 to 2 s on a busy 2-core machine,
        // and the first tenant re-attached at start would wait for it: load it while the config
        // is read and the actor system starts (whoever needs it first then waits for this load)
        Thread rocksdb = new Thread(org.rocksdb.RocksDB::loadLibrary, "rocksdb-load");
        rocksdb.setDaemon(true);
        rocksdb.start();
        Config config = ConfigFactory.load();
        Settings settings = Settings.from(config);
        // After a crash each store's open replays RocksDB's own WAL (seconds for tens of MB):
        // started now, it overlaps the actor system's and the listeners' start instead of
        // following it, on two threads of its own that end with the last open
        ExecutorService opening = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "store-open");
            t.setDaemon(true);
            return t;
        });
        StoreOpens opens = StoreOpens.start(settings.dataDir(), settings.storageSync(), settings.storageMemory(), opening);
        CompletableFuture.allOf(opens.openings().stream().map(StoreOpens.Opening::result)
            .toArray(CompletableFuture[]::new)).whenComplete((v, e) -> opening.shutdown());
        ActorSystem<PageServer.Command> system = ActorSystem.create(
            PageServer.create(settings, new ReplicationBootstrap(settings), Optional.of(opens)), "pageserver", config);
        // the main thread outlives the system: a listener that could not bind shut it down, and the
        // process then ends with status 1 (after SIGTERM the reason is another one, and the JVM's
        // shutdown, already under way, ends the process)
        system.getWhenTerminated().toCompletableFuture().join();
        if (CoordinatedShutdown.get(system).getShutdownReason().filter(PageServer.BIND_FAILED::equals).isPresent()) {
            System.exit(1);
        }
    }
}
