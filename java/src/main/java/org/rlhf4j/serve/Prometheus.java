package org.rlhf4j.serve;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The job manager's state in Prometheus' text exposition format (version 0.0.4). */
final class Prometheus {
  /** Per running job: the metric exported and the metrics.jsonl key it comes from. */
  private static final List<String[]> RUNNING = List.of(
      new String[] {"rlhf4j_job_tokens_per_second", "tokens_per_s", "Generated tokens per second of the last iteration."},
      new String[] {"rlhf4j_job_objective_kl", "objective/kl", "objective/kl of the last iteration."},
      new String[] {"rlhf4j_job_objective_scores", "objective/scores", "objective/scores of the last iteration."},
      new String[] {"rlhf4j_job_objective_rlhf_reward", "objective/rlhf_reward",
          "objective/rlhf_reward of the last iteration."},
      new String[] {"rlhf4j_job_train_loss", "train/loss", "train/loss of the last step (sft, train-rm)."});

  private Prometheus() {}

  static String text(JobManager manager) {
    StringBuilder b = new StringBuilder();
    header(b, "rlhf4j_jobs", "Jobs by state.");
    for (Map.Entry<JobState, Long> e : manager.countByState().entrySet()) {
      b.append("rlhf4j_jobs{state=\"").append(e.getKey().label()).append("\"} ").append(e.getValue()).append('\n');
    }
    List<JobInfo> jobs = manager.list();
    header(b, "rlhf4j_job_iteration", "Last finished iteration of each job (optimizer step for sft, train-rm).");
    for (JobInfo j : jobs) sample(b, "rlhf4j_job_iteration", j, j.iteration());
    header(b, "rlhf4j_job_total_iterations", "Iterations of each job's whole run.");
    for (JobInfo j : jobs) sample(b, "rlhf4j_job_total_iterations", j, j.totalIterations());
    List<JobInfo> running = jobs.stream().filter(j -> j.state() == JobState.RUNNING).toList();
    for (String[] m : RUNNING) {
      header(b, m[0], m[2]);
      for (JobInfo j : running) {
        Double v = j.lastMetrics().get(m[1]);
        if (v != null) sample(b, m[0], j, v);
      }
    }
    return b.toString();
  }

  private static void header(StringBuilder b, String name, String help) {
    b.append("# HELP ").append(name).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(name).append(" gauge\n");
  }

  private static void sample(StringBuilder b, String name, JobInfo j, double v) {
    b.append(name).append("{job=\"").append(j.id()).append("\",command=\"").append(j.command()).append("\"} ")
        .append(number(v)).append('\n');
  }

  private static String number(double v) {
    if (Double.isNaN(v)) return "NaN";
    if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    return String.format(Locale.ROOT, "%.9g", v);
  }
}
