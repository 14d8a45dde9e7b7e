package org.rlhf4j.serve;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.rlhf4j.ppo.PpoTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A queued or running job: its execution, whether the user cancelled it, and the numbers its
 * ETA is made from. Its fields are written by the worker and read by requests.
 */
final class ActiveJob {
  private static final Logger LOG = LoggerFactory.getLogger(ActiveJob.class);

  /** How an execution ended; error is the one-line reason of a failed one. */
  record End(JobState state, String error) {}

  final JobRun run;
  volatile boolean cancelled;
  private volatile long startNanos;
  private volatile long startIteration = -1;

  ActiveJob(JobRun run) {
    this.run = run;
  }

  /** info with the ETA of a running job from its iterations so far in this execution. */
  JobInfo live(JobInfo info) {
    if (info.state() != JobState.RUNNING || startIteration < 0) return info;
    long done = info.iteration() - startIteration;
    if (done <= 0 || info.totalIterations() <= 0) return info;
    double perIteration = (System.nanoTime() - startNanos) / 1e9 / done;
    double eta = perIteration * Math.max(0, info.totalIterations() - info.iteration());
    return info.withProgress(info.iteration(), info.totalIterations(), eta, info.lastMetrics());
  }

  /** Runs the job on the calling worker thread, its log lines going to log; never throws. */
  End execute(String id, Path log, JobRun.Progress progress) {
    JobLog.bind(id, log);
    JobState end;
    String error = null;
    try {
      startNanos = System.nanoTime();
      boolean complete = run.run(new JobRun.Progress() {
        @Override
        public void total(long iterations) {
          progress.total(iterations);
        }

        @Override
        public void iteration(long iteration, Map<String, Double> metrics, List<PpoTrainer.Sample> samples) {
          if (startIteration < 0) startIteration = iteration - 1;
          progress.iteration(iteration, metrics, samples);
        }
      });
      // A stop that came as the last iteration finished stopped nothing: the run is complete.
      end = complete || !run.stopRequested() ? JobState.SUCCEEDED
          : cancelled ? JobState.CANCELLED : JobState.INTERRUPTED;
    } catch (Throwable e) {
      end = JobState.FAILED;
      error = oneLine(e);
      LOG.error("job {} failed: {}", id, error, e);
    } finally {
      JobLog.unbind(id);
    }
    JobLog.line(log, end.label() + (error == null ? "" : ": " + error));
    return new End(end, error);
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.lines().findFirst().orElse("").strip();
  }
}
