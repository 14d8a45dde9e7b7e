package org.rlhf4j.serve;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.metrics.MetricsLog;

/**
 * Who owns each run directory: one queued or running job at a time, reserved at submit (and at
 * resume) and released when the job ends, so two jobs never write one directory; a directory
 * that already holds a finished run on disk is refused too. Thread-safe.
 */
final class RunDirs {
  /** Run directory (real path) to the job that owns it. */
  private final Map<Path, String> owners = new HashMap<>();

  /**
   * Makes runDir job's.
   *
   * @throws JobException (conflict) when another queued or running job owns it
   */
  synchronized void reserve(Path runDir, String job) {
    String owner = owners.putIfAbsent(runDir, job);
    if (owner != null && !owner.equals(job)) {
      throw new JobException(JobException.Reason.CONFLICT, "run.out " + runDir + " belongs to job " + owner
          + " (queued or running); choose another run.out or leave it out");
    }
  }

  /** Whether a queued or running job owns runDir. */
  synchronized boolean owned(Path runDir) {
    return owners.containsKey(runDir);
  }

  synchronized void release(Path runDir, String job) {
    owners.remove(runDir, job);
  }

  /** @throws JobException (conflict) when runDir already holds a run (metrics or checkpoints) */
  static void refuseExisting(Path runDir) {
    for (String name : List.of(MetricsLog.FILE_NAME, RunCheckpoints.DIR)) {
      if (Files.exists(runDir.resolve(name))) {
        throw new JobException(JobException.Reason.CONFLICT, "run.out " + runDir + " already holds a run (" + name
            + "); leave run.out out to get a new directory under the runs root");
      }
    }
  }
}
