package org.rlhf4j.serve;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of a manager's jobs. The manager publishes state events under its lock, with the
 * change they report, so every watcher sees a job's states in the order they happened (queued
 * before running, even when the device's thread takes the job at once). Listeners only hand
 * events on (SSE queues them); one that throws is logged and kept. Thread-safe.
 */
final class JobEvents {
  private static final Logger LOG = LoggerFactory.getLogger(JobEvents.class);

  private record Listening(String job, JobListener listener) {}

  private final List<Listening> subscriptions = new CopyOnWriteArrayList<>();

  /** Calls listener with every event of job (of every job when job is null) until the handle is closed. */
  JobManager.Subscription listen(String job, JobListener listener) {
    Listening s = new Listening(job, listener);
    subscriptions.add(s);
    return () -> subscriptions.remove(s);
  }

  void publish(JobEvent e) {
    for (Listening s : subscriptions) {
      if (s.job() != null && !s.job().equals(e.job())) continue;
      try {
        s.listener().onEvent(e);
      } catch (RuntimeException ex) {
        LOG.warn("a listener of job {} failed: {}", e.job(), ex.toString());
      }
    }
  }
}
