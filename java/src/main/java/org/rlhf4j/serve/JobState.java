package org.rlhf4j.serve;

import java.util.Locale;

/** Where a job is in its life; the API writes these in lower case. */
public enum JobState {
  /** Waiting for its device. */
  QUEUED,
  /** Training on its device's worker. */
  RUNNING,
  /** Ran to schedule's end (or its time budget). */
  SUCCEEDED,
  /** Stopped by an error; the message is in the job's error and log. */
  FAILED,
  /** Stopped on request at an iteration boundary, with a checkpoint. */
  CANCELLED,
  /** The service stopped (or died) while the job was running; resumable from its newest checkpoint. */
  INTERRUPTED;

  /** The job will not change any more unless resumed. */
  public boolean finished() {
    return this != QUEUED && this != RUNNING;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
