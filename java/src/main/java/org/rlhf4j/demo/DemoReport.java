package org.rlhf4j.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.metrics.Report;

/** DIR/report.html: curves of every stage, the before/after table and samples. */
final class DemoReport {
  private DemoReport() {}

  static Path write(Path out, DemoSummary s) throws IOException {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("RL preset", s.preset());
    summary.put("reward", s.reward().equals("gold") ? "gold judge (verifiable, RLVR)" : "reward model (RLHF)");
    summary.put("model", "GPT-2 shape, " + s.scale().nLayer() + " layers, n_embd " + s.scale().nEmbd());
    summary.put("SFT held-out loss per token", String.format("%.3f", s.sftEvalLoss()));
    summary.put("reward model held-out pairwise accuracy", String.format("%.3f", s.rmAccuracy()));
    summary.put("positive share before -> after", String.format("%.3f -> %.3f", s.positiveBefore(), s.positiveAfter()));
    summary.put("validity after PPO", String.format("%.3f", s.validityAfter()));
    s.seconds().forEach((stage, sec) -> summary.put("seconds: " + stage, String.format("%.0f", sec)));

    Report.Builder r = Report.builder("rlhf4j demo: SFT -> reward model -> RL (" + s.preset() + ", reward "
        + s.reward() + ")").summary(summary)
        .beforeAfter("Held-out prompts: SFT policy (before) and PPO policy (after)", s.before(), s.after());
    Map<String, List<double[]>> gold = new LinkedHashMap<>();
    for (String k : List.of("gold", "positive_share", "validity")) {
      List<double[]> points = new ArrayList<>();
      for (var p : s.goldCurve()) points.add(new double[] {p.get("iteration"), p.get(k)});
      gold.put(k, points);
    }
    r.chart("Hidden judges during PPO (held-out prompts)", gold);
    List<MetricsRecord> ppo = read(out.resolve("ppo"));
    r.metricCharts(ppo, List.of("objective/scores", "objective/kl", "objective/entropy", "loss/policy", "loss/value"));
    r.metricCharts(read(out.resolve("sft")), List.of("train/loss", "eval/loss"));
    r.metricCharts(read(out.resolve("rm")), List.of("train/loss", "eval/accuracy"));
    r.samples("Samples before PPO (SFT policy; score = reward model)", samples(s.samplesBefore()));
    r.samples("Samples after PPO (same prompts)", samples(s.samplesAfter()));
    return r.write(out.resolve("report.html"));
  }

  private static List<MetricsRecord> read(Path run) throws IOException {
    Path file = run.resolve(MetricsLog.FILE_NAME);
    return Files.isRegularFile(file) ? MetricsLog.read(file) : List.of();
  }

  private static List<Report.Sample> samples(List<DemoSummary.Sample> samples) {
    return samples.stream().map(x -> new Report.Sample(x.prompt(),
        x.response() + "   [gold " + String.format("%+.1f", x.gold()) + (x.valid() ? ", valid" : ", INVALID") + "]",
        x.rmScore())).toList();
  }
}
