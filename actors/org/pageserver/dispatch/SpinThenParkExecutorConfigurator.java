package org.pageserver.dispatch;

import com.typesafe.config.Config;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;
import org.apache.pekko.dispatch.MonitorableThreadFactory;

/**
 * Makes {@link SpinThenParkExecutor} a Pekko executor: a dispatcher with
 * {@code executor = "org.pageserver.dispatch.SpinThenParkExecutorConfigurator"} reads
 * <pre>
 * spin-then-park-executor {
 *   parallelism-min = 1       # threads: cores * parallelism-factor, within min and max
 *   parallelism-factor = 0.5
 *   parallelism-max = 64
 *   idle-spin = 100us         # how long an idle thread keeps looking before it parks
 * }
 * </pre>
 */
public final class SpinThenParkExecutorConfigurator extends ExecutorServiceConfigurator {

    private final int threads;
    private final long idleSpinNanos;

    public SpinThenParkExecutorConfigurator(Config config, DispatcherPrerequisites prerequisites) {
        super(config, prerequisites);
        Config c = config.getConfig("spin-then-park-executor");
        int cores = Runtime.getRuntime().availableProcessors();
        int wanted = (int) Math.ceil(cores * c.getDouble("parallelism-factor"));
        this.threads = Math.max(c.getInt("parallelism-min"), Math.min(c.getInt("parallelism-max"), wanted));
        this.idleSpinNanos = c.getDuration("idle-spin", TimeUnit.NANOSECONDS);
    }

    @Override
    public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
        // threads named like Pekko's own pools: <system>-<dispatcher id>-<n>
        ThreadFactory named = threadFactory instanceof MonitorableThreadFactory m ? m.withName(m.name() + "-" + id)
            : threadFactory;
        return () -> new SpinThenParkExecutor(threads, idleSpinNanos, named);
    }
}
