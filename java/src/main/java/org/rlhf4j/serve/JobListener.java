package org.rlhf4j.serve;

/**
 * Hears a job's events. Called on the job's worker thread: return quickly (hand the event to a
 * queue for anything slow); an exception thrown here is logged and never reaches the job.
 */
@FunctionalInterface
public interface JobListener {
  void onEvent(JobEvent event);
}
