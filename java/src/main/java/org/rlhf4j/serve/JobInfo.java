package org.rlhf4j.serve;

import java.util.Map;

/**
 * A job as the manager reports it (and, without the live fields, as job.json in its directory
 * records it). Times are ISO-8601 UTC, null when not reached.
 *
 * @param id the job's name, also its directory under the runs root
 * @param command sft, train-rm, dpo or ppo
 * @param state where it is
 * @param runDir the run directory (run.out): config.yaml, metrics.jsonl, checkpoints/
 * @param device the device whose queue it runs in (run.device)
 * @param created when it was submitted
 * @param started when it last started running
 * @param finished when it last stopped
 * @param error the one-line message of a failed job
 * @param iteration the last finished iteration (optimizer step for sft and train-rm)
 * @param totalIterations the iterations of the whole run (0 when not known yet)
 * @param etaSeconds the estimated seconds to the end of a running job, else null
 * @param lastMetrics the last iteration's metrics
 */
public record JobInfo(String id, String command, JobState state, String runDir, String device, String created,
    String started, String finished, String error, long iteration, long totalIterations, Double etaSeconds,
    Map<String, Double> lastMetrics) {

  public JobInfo {
    lastMetrics = lastMetrics == null ? Map.of() : Map.copyOf(lastMetrics);
  }

  JobInfo withState(JobState s) {
    return new JobInfo(id, command, s, runDir, device, created, started, finished, error, iteration, totalIterations,
        etaSeconds, lastMetrics);
  }

  JobInfo withTimes(String startedAt, String finishedAt, String err) {
    return new JobInfo(id, command, state, runDir, device, created, startedAt, finishedAt, err, iteration,
        totalIterations, etaSeconds, lastMetrics);
  }

  JobInfo withProgress(long it, long total, Double eta, Map<String, Double> metrics) {
    return new JobInfo(id, command, state, runDir, device, created, started, finished, error, it, total, eta,
        metrics);
  }
}
