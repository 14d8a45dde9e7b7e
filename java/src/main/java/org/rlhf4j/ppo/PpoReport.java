package org.rlhf4j.ppo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.metrics.Report;

/**
 * The end-of-run report of a PPO run, {@code run.out/report.html} (and report-data.json): a
 * summary of the config and the final metrics, charts of the key metrics against iteration read
 * from metrics.jsonl, and sample generations of the first and the last iteration it saw.
 *
 * <p>Register it with {@link PpoTrainer#addListener} before {@link PpoTrainer#run()}, then call
 * {@link #write}. Called on the trainer's thread; not thread-safe.
 */
public final class PpoReport implements PpoTrainer.Listener {
  public static final String FILE_NAME = "report.html";

  /** The metrics charted, each when metrics.jsonl has it. */
  public static final List<String> CHARTS = List.of("objective/scores", "objective/kl", "objective/entropy",
      "loss/policy", "loss/value", "eval/scores");

  /** The final metrics shown in the summary, each when the last record has it. */
  private static final List<String> FINAL = List.of("objective/scores", "objective/kl", "objective/entropy",
      "objective/rlhf_reward", "response_length/mean", "eval/scores", "eval/kl");

  private PpoTrainer.Iteration first;
  private PpoTrainer.Iteration last;

  @Override
  public void onIteration(PpoTrainer.Iteration iteration) {
    // A skipped iteration has no samples: it would leave the section empty.
    if (iteration.samples().isEmpty()) return;
    if (first == null) first = iteration;
    last = iteration;
  }

  /** The summary's rows: config essentials, iterations and final metrics. */
  public static Map<String, Object> summary(PpoRunConfig config, List<MetricsRecord> records) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("policy", config.model().path().toString());
    s.put("critic", config.model().critic().name().toLowerCase(Locale.ROOT));
    s.put("reward", switch (config.reward().kind()) {
      case MODEL -> "model " + config.reward().modelPath();
      case FUNCTION -> "function " + config.reward().function();
      case REMOTE -> "remote " + config.reward().url();
    });
    s.put("prompts", config.data().prompts().toString());
    s.put("ppo.preset", config.ppo().preset().name().toLowerCase(Locale.ROOT));
    s.put("ppo.kl_coef", config.ppo().klCoef());
    s.put("ppo.adaptive_kl", config.ppo().adaptiveKl());
    s.put("optim.lr", config.optim().lr());
    s.put("schedule.rollout_batch", config.schedule().rolloutBatch());
    s.put("generation.max_new_tokens", config.generation().maxNewTokens());
    s.put("run.seed", config.run().seed());
    s.put("run.device", config.run().device());
    s.put("iterations", (records.isEmpty() ? 0 : records.getLast().iteration()) + " of "
        + config.schedule().iterations());
    if (!records.isEmpty()) {
      MetricsRecord end = records.getLast();
      for (String k : FINAL) {
        if (end.values().containsKey(k)) s.put("final " + k, end.get(k));
      }
    }
    return s;
  }

  /**
   * Writes the report into run.out, reading its metrics.jsonl (which must exist: call after a
   * run). Returns the HTML file.
   */
  public Path write(PpoRunConfig config) throws IOException {
    Path out = config.run().out();
    List<MetricsRecord> records = MetricsLog.read(out.resolve(MetricsLog.FILE_NAME));
    Report.Builder b = Report.builder("PPO run " + out.toAbsolutePath().normalize().getFileName())
        .summary(summary(config, records))
        .metricCharts(records, CHARTS);
    if (first != null) b.samples("Samples at iteration " + first.iteration(), samples(first));
    if (last != null && last != first) b.samples("Samples at iteration " + last.iteration(), samples(last));
    Path html = out.resolve(FILE_NAME);
    b.write(html);
    return html;
  }

  private static List<Report.Sample> samples(PpoTrainer.Iteration it) {
    List<Report.Sample> out = new ArrayList<>();
    for (PpoTrainer.Sample s : it.samples()) out.add(new Report.Sample(s.prompt(), s.response(), s.score()));
    return out;
  }
}
