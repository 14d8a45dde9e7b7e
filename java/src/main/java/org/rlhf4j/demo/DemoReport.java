package org.rlhf4j.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Report;

/**
 * DIR/report.html: the RL runs side by side (held-out gold reward, validity, KL, wall time,
 * memory), curves of every stage, the before/after tables and samples.
 */
final class DemoReport {
  private DemoReport() {}

  /** Columns of {@link #comparison}, after the run's name. */
  static final List<String> COMPARED = List.of("gold reward", "positive share", "validity", "KL to reference",
      "RL seconds", "peak RSS GB");

  static Path write(Path out, DemoSummary s) throws IOException {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("RL runs", String.join(", ", s.runs().stream().map(r -> r.algo() + " (" + r.preset() + ")").toList()));
    summary.put("reward", s.reward().equals("gold") ? "gold judge (verifiable, RLVR)" : "reward model (RLHF)");
    summary.put("model", "GPT-2 shape, " + s.scale().nLayer() + " layers, n_embd " + s.scale().nEmbd());
    summary.put("SFT held-out loss per token", String.format("%.3f", s.sftEvalLoss()));
    summary.put("reward model held-out pairwise accuracy", String.format("%.3f", s.rmAccuracy()));
    s.seconds().forEach((stage, sec) -> summary.put("seconds: " + stage, String.format("%.0f", sec)));

    String names = String.join(", ", s.runs().stream().map(DemoSummary.Run::algo).toList());
    Report.Builder r = Report.builder("rlhf4j demo: SFT -> reward model -> RL (" + names + ", reward " + s.reward()
        + ")").summary(summary)
        .table("Held-out prompts: the SFT policy and each RL policy (same prompts, same sampling seed)",
            header(), comparison(s));
    for (String k : List.of("gold", "positive_share", "validity", "kl")) {
      Map<String, List<double[]>> series = new LinkedHashMap<>();
      for (DemoSummary.Run run : s.runs()) {
        List<double[]> points = new ArrayList<>();
        for (var p : run.goldCurve()) points.add(new double[] {p.get("iteration"), p.get(k)});
        series.put(run.algo(), points);
      }
      r.chart("Held-out " + k + " during RL", series);
    }
    for (DemoSummary.Run run : s.runs()) {
      r.beforeAfter("Held-out prompts: SFT policy (before) and " + run.algo() + " policy (after)", s.before(),
          run.after());
      r.metricCharts(run.algo() + ": ", MetricsLog.readRun(out.resolve(run.algo())),
          List.of("objective/scores", "objective/kl", "objective/entropy", "loss/policy", "loss/value", "train/loss",
              "rewards/margins", "rewards/accuracies", "eval/rewards/accuracies"));
    }
    r.metricCharts(MetricsLog.readRun(out.resolve("sft")), List.of("train/loss", "eval/loss"));
    r.metricCharts(MetricsLog.readRun(out.resolve("rm")), List.of("train/loss", "eval/accuracy"));
    r.samples("Samples of the SFT policy (score = reward model)", samples(s.samplesBefore()));
    for (DemoSummary.Run run : s.runs()) {
      r.samples("Samples of the " + run.algo() + " policy (same prompts)", samples(run.samplesAfter()));
    }
    return r.write(out.resolve("report.html"));
  }

  static List<String> header() {
    List<String> h = new ArrayList<>(List.of("policy"));
    h.addAll(COMPARED);
    return h;
  }

  /** One row for the SFT policy, then one per RL run, in {@link #header()}'s columns. */
  static List<List<Object>> comparison(DemoSummary s) {
    List<List<Object>> rows = new ArrayList<>();
    rows.add(Arrays.asList("SFT", s.goldBefore(), s.positiveBefore(), s.validityBefore(),
        s.before().get("KL to reference"), null, null));
    for (DemoSummary.Run run : s.runs()) {
      rows.add(Arrays.asList(run.algo(), run.goldAfter(), run.positiveAfter(), run.validityAfter(), run.klAfter(),
          run.seconds(), Double.isFinite(run.peakRssGb()) ? run.peakRssGb() : null));
    }
    return rows;
  }

  private static List<Report.Sample> samples(List<DemoSummary.Sample> samples) {
    return samples.stream().map(x -> new Report.Sample(x.prompt(),
        x.response() + "   [gold " + String.format("%+.1f", x.gold()) + (x.valid() ? ", valid" : ", INVALID") + "]",
        x.rmScore())).toList();
  }
}
