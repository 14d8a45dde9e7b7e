package org.rlhf4j.serve;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One worker per device, running its jobs one at a time in submission order. A worker's thread
 * ends after a minute without jobs (the next job starts another), so idle devices hold no thread.
 * Thread-safe.
 */
final class DeviceWorkers {
  private static final long IDLE_SECONDS = 60;

  private final Map<String, ThreadPoolExecutor> workers = new ConcurrentHashMap<>();

  /** Queues job on device's worker (device already canonical and known to exist). */
  void execute(String device, Runnable job) {
    workers.computeIfAbsent(device, d -> {
      ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, IDLE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          r -> {
            Thread t = new Thread(r, "rlhf4j-jobs-" + d);
            t.setDaemon(true);
            return t;
          });
      e.allowCoreThreadTimeOut(true);
      return e;
    }).execute(job);
  }

  /** Stops taking jobs and waits up to seconds for the running ones; false when one still runs. */
  boolean shutdown(long seconds) throws InterruptedException {
    for (ThreadPoolExecutor e : workers.values()) e.shutdown();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    for (ThreadPoolExecutor e : workers.values()) {
      if (!e.awaitTermination(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS)) return false;
    }
    return true;
  }
}
