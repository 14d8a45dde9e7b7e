package org.rlhf4j.serve;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BiConsumer;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Iteration events for sft and train-rm, whose loops have no listener: every new line of the
 * run's metrics.jsonl, read twice a second on a thread of its own and once more at stop.
 */
final class MetricsPoller {
  private static final Logger LOG = LoggerFactory.getLogger(MetricsPoller.class);
  private static final long PERIOD_MS = 500;

  private final Path file;
  private final BiConsumer<Long, Map<String, Double>> onRecord;
  private final Thread thread;
  private volatile boolean running = true;
  private long seen;

  MetricsPoller(String job, Path runDir, BiConsumer<Long, Map<String, Double>> onRecord) {
    this.file = runDir.resolve(MetricsLog.FILE_NAME);
    this.onRecord = onRecord;
    this.thread = new Thread(this::loop, "rlhf4j-metrics-" + job);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Stops the thread (bounded wait) and reports what the file gained since its last read. */
  void stop() {
    running = false;
    if (thread.isAlive()) {
      thread.interrupt();
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    poll();
  }

  private void loop() {
    while (running) {
      poll();
      try {
        Thread.sleep(PERIOD_MS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private synchronized void poll() {
    try {
      if (!Files.exists(file)) return;
      for (MetricsRecord r : MetricsLog.read(file)) {
        if (r.iteration() <= seen) continue;
        seen = r.iteration();
        onRecord.accept(r.iteration(), r.values());
      }
    } catch (IOException | RuntimeException e) {
      LOG.debug("{}: {}", file, e.toString());
    }
  }
}
