package org.rlhf4j.demo.tools;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Report;

/** DIR/report.html of the tools demo: the judges before and after, the stages' curves, held-out episodes. */
final class ToolsReport {
  private ToolsReport() {}

  static Path write(Path out, ToolsSummary s) throws IOException {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("task", "what a dish costs at a restaurant; only the menu tool knows (" + s.questions()
        + " held-out questions, greedy)");
    summary.put("model", "GPT-2 shape, " + s.scale().nLayer() + " layers, n_embd " + s.scale().nEmbd());
    summary.put("SFT held-out loss per assistant token", String.format("%.3f", s.sftEvalLoss()));
    summary.put("RL", "GRPO, " + s.scale().numSamples() + " episodes per question, exact-match reward");
    s.seconds().forEach((stage, sec) -> summary.put("seconds: " + stage, String.format("%.0f", sec)));
    Report.Builder r = Report.builder("rlhf4j demo: a policy that needs its tool (SFT -> GRPO with the menu tool)")
        .summary(summary)
        .beforeAfter("Held-out questions: SFT policy (before) and GRPO policy (after)", s.before(), s.after());
    r.metricCharts("grpo: ", MetricsLog.readRun(out.resolve("grpo")), List.of("objective/scores", "agent/tool_calls",
        "agent/turns", "agent/tool_errors", "objective/kl", "loss/policy"));
    r.metricCharts(MetricsLog.readRun(out.resolve("sft")), List.of("train/loss", "eval/loss"));
    r.samples("Episodes of the SFT policy (score = exact match)", samples(s.samplesBefore()));
    r.samples("Episodes of the GRPO policy (same questions)", samples(s.samplesAfter()));
    return r.write(out.resolve("report.html"));
  }

  private static List<Report.Sample> samples(List<ToolsSummary.Sample> samples) {
    return samples.stream().map(x -> new Report.Sample(x.question(),
        x.episode() + "   [price " + x.gold() + (x.calledTool() ? ", called the tool" : ", no tool") + "]",
        x.correct() ? 1 : 0)).toList();
  }
}
