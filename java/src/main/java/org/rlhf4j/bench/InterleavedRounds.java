package org.rlhf4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;

/**
 * {@code scripts/bench --rounds N --compare OPTS --compare OPTS ...}: each variant (the bench's
 * other options plus OPTS) runs in a process of its own, the variants in turn within each round
 * (A B A B ...), so that a drift of the machine between rounds falls on every variant alike. A
 * phase of one invocation moves by up to ~20% between runs on our 2-core machines; the ratio of
 * two variants measured side by side in one round moves less, and its median over the rounds is
 * the figure to report. Prints a line per run, a summary table and one JSON line.
 */
final class InterleavedRounds {
  /**
   * One run's figures, read from the JSON line a bench process prints last; the ppo workload's
   * read-bandwidth and GEMM-rate fractions (null in its JSON for a measurement error), plain
   * PyTorch's iteration and the ratio to it (--vs-pytorch) are NaN where the run has none. load:
   * the machine's load while the run (and its PyTorch peer) timed itself, the larger of other
   * processes' and the hypervisor's share ({@link MachineLoad}); NaN where unmeasured.
   */
  record Run(String library, String dtype, Map<String, Double> seconds, double generatedTokensPerS,
      double trainedTokensPerS, double peakRssGb, double readBandwidthFraction, double learnFractionOfGemm,
      double iterationVsPytorch, double pytorchIteration, double load) {
    double iteration() {
      return PpoBench.total(seconds);
    }

    static Run of(JsonNode j) {
      Map<String, Double> s = new LinkedHashMap<>();
      for (String phase : PpoBench.PHASES) {
        JsonNode v = j.path("seconds").path(phase);
        if (!v.isNumber()) throw new IllegalStateException("the bench's JSON line has no seconds." + phase + ": " + j);
        s.put(phase, v.asDouble());
      }
      JsonNode optimizer = j.path("seconds").path(PpoBench.OPTIMIZER);
      if (optimizer.isNumber()) s.put(PpoBench.OPTIMIZER, optimizer.asDouble());  // a part of learn, where the run timed it
      JsonNode generated = j.has("live_generated_tokens_per_s") ? j.get("live_generated_tokens_per_s")
          : j.path("generated_tokens_per_s");
      return new Run(j.path("library").asText(), j.path("dtype").asText(), s, generated.asDouble(),
          j.path("trained_tokens_per_s").asDouble(), j.path("peak_rss_gb").asDouble(), number(j, "rollout_fraction_of_read_bandwidth"),
          number(j, "learn_fraction_of_gemm"), number(j, "iteration_vs_pytorch"), number(j.path("pytorch"), "total_seconds"),
          load(j));
    }

    /** The worst share of the run's load and its PyTorch peer's; NaN unless the run measured its own. */
    private static double load(JsonNode j) {
      double mine = Math.max(number(j, "other_cpu_share"), number(j, "steal_share"));
      JsonNode peer = j.path("pytorch");
      double theirs = Math.max(number(peer, "other_cpu_share"), number(peer, "steal_share"));
      return Double.isNaN(theirs) ? mine : Math.max(mine, theirs);
    }

    boolean idle() {
      return !(load >= MachineLoad.IDLE_LIMIT);  // as MachineLoad.idle(); NaN (unmeasured) counts as idle
    }

    private static double number(JsonNode j, String key) {
      return j.path(key).isNumber() ? j.get(key).asDouble() : Double.NaN;
    }
  }

  /** One run of variant v (from 0) in round r (from 1): a bench process, or a test's stand-in. */
  interface Runner {
    Run run(int v, int r) throws IOException, InterruptedException;
  }

  private final List<String> base;
  private final List<List<String>> variants = new ArrayList<>();
  private final List<String> labels;
  private final int rounds;
  private final Runner runner;

  /**
   * @param base the bench's arguments without --rounds and --compare
   * @param variants each variant's options, as one string split at white space ("" for none); one
   *     variant alone is N runs of the same options, for their medians
   */
  InterleavedRounds(List<String> base, List<String> variants, int rounds) {
    this(base, variants, rounds, null);
  }

  /** The same with runner in place of bench processes (null: bench processes). */
  InterleavedRounds(List<String> base, List<String> variants, int rounds, Runner runner) {
    if (rounds < 1) throw new IllegalArgumentException("--rounds must be at least 1, got " + rounds);
    if (variants.isEmpty()) throw new IllegalArgumentException("no variant to run");
    for (String v : variants) {
      List<String> opts = v.isBlank() ? List.of() : Arrays.asList(v.strip().split("\\s+"));
      for (String o : opts) {
        if (o.startsWith("--compare") || o.startsWith("--rounds")) {
          throw new IllegalArgumentException("--compare '" + v + "': " + o + " cannot be a variant's option");
        }
      }
      List<String> args = new ArrayList<>(base);
      args.addAll(opts);
      try {
        PpoBench.checkArguments(args);
      } catch (CommandLine.ParameterException | IllegalArgumentException e) {
        throw new IllegalArgumentException("--compare '" + v.strip() + "': " + e.getMessage());
      }
      this.variants.add(opts);
    }
    this.base = List.copyOf(base);
    this.labels = variants.stream().map(v -> v.isBlank() ? "(base)" : v.strip()).toList();
    this.rounds = rounds;
    this.runner = runner != null ? runner : this::runOnce;
  }

  /** The arguments without --rounds and --compare (each as "--x v" or "--x=v"). */
  static List<String> withoutRoundOptions(List<String> args) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--rounds") || a.equals("--compare")) {
        i++;
      } else if (!a.startsWith("--rounds=") && !a.startsWith("--compare=")) {
        out.add(a);
      }
    }
    return out;
  }

  int run(PrintWriter out) throws IOException, InterruptedException {
    List<List<Run>> runs = new ArrayList<>();
    for (int v = 0; v < variants.size(); v++) runs.add(new ArrayList<>());
    for (int r = 1; r <= rounds; r++) {
      for (int v = 0; v < variants.size(); v++) {
        Run run;
        try {
          run = runner.run(v, r);
        } catch (IOException | RuntimeException e) {
          summarizeBefore(out, runs, r);
          throw e;
        }
        runs.get(v).add(run);
        // PyTorch's own time moves by more than ours from run to run: the ratio's line shows it.
        String vsPytorch = Double.isNaN(run.pytorchIteration()) ? ""
            : String.format("  plain PyTorch %.3f s (%.3fx)", run.pytorchIteration(), run.iterationVsPytorch());
        String load = Double.isNaN(run.load()) ? "" : String.format("  load %.1f%%%s", 100 * run.load(),
            run.idle() ? "" : " NOT IDLE");
        out.printf("round %d/%d  %-40s iteration %7.3f s  (rollout %.3f, ref %.3f, reward %.3f, learn %.3f)  "
            + "peak RSS %.2f GB%s%s%n", r, rounds, labels.get(v), run.iteration(), run.seconds().get("rollout"),
            run.seconds().get("ref"), run.seconds().get("reward"), run.seconds().get("learn"), run.peakRssGb(), vsPytorch,
            load);
      }
    }
    printSummary(out, runs);
    return 0;
  }

  /** The table, then the same as one JSON line. */
  private void printSummary(PrintWriter out, List<List<Run>> runs) throws IOException {
    Map<String, Object> summary = summary(runs);
    print(out, summary);
    out.println(new ObjectMapper().writeValueAsString(summary));
    out.flush();
  }

  /**
   * A run of round r failed: the summary of the rounds before it, so that minutes of complete
   * rounds are not lost with it (none before round 2). The failed round's runs are left out: each
   * round's ratio needs all of its variants.
   */
  private void summarizeBefore(PrintWriter out, List<List<Run>> runs, int r) throws IOException {
    if (r < 2) return;
    out.printf("%nround %d failed; the %d complete round%s before it:%n", r, r - 1, r == 2 ? "" : "s");
    printSummary(out, runs.stream().map(l -> l.subList(0, r - 1)).toList());
  }

  /** One bench process: the base arguments and variant v's; its stderr passes through. */
  private Run runOnce(int v, int round) throws IOException, InterruptedException {
    List<String> cmd = PpoBench.command();
    cmd.addAll(base);
    cmd.addAll(variants.get(v));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String text;
    try {
      text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int status = p.waitFor();
      if (status != 0) {
        throw new IllegalArgumentException("round " + round + ", variant '" + labels.get(v) + "': the bench exited with "
            + "status " + status);
      }
    } finally {
      p.destroyForcibly();
    }
    // A child that exits 0 without its result line: one line, not a parse error.
    String json = PpoBench.lastJsonLine(text).orElseThrow(() ->
        new IllegalArgumentException("round " + round + ", variant '" + labels.get(v) + "': no JSON line in the bench's "
            + "output"));
    return Run.of((JsonNode) PpoBench.json(json));
  }

  /** Per variant: each round's figures, their medians, and each round's ratio to the first variant's. */
  Map<String, Object> summary(List<List<Run>> runs) {
    List<Run> first = runs.get(0);
    List<Map<String, Object>> out = new ArrayList<>();
    for (int v = 0; v < runs.size(); v++) {
      List<Run> mine = runs.get(v);
      double[] iteration = mine.stream().mapToDouble(Run::iteration).toArray();
      double[] ratio = new double[mine.size()];
      double[] tokensRatio = new double[mine.size()];
      for (int r = 0; r < mine.size(); r++) {
        ratio[r] = iteration[r] / first.get(r).iteration();
        tokensRatio[r] = mine.get(r).generatedTokensPerS() / first.get(r).generatedTokensPerS();
      }
      List<String> timed = new ArrayList<>(PpoBench.PHASES);
      if (mine.stream().allMatch(x -> x.seconds().containsKey(PpoBench.OPTIMIZER))) timed.add(PpoBench.OPTIMIZER);
      Map<String, Double> phases = new LinkedHashMap<>();
      for (String key : timed) phases.put(key, median(mine.stream().mapToDouble(x -> x.seconds().get(key)).toArray()));
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("options", labels.get(v));
      m.put("dtype", mine.get(0).dtype());
      m.put("library", mine.get(0).library());
      m.put("iteration_seconds", iteration);
      m.put("iteration_median", median(iteration));
      m.put("phases_median", phases);
      m.put("iteration_vs_first", ratio);
      m.put("iteration_vs_first_median", median(ratio));
      m.put("generated_tokens_per_s_median", median(mine.stream().mapToDouble(Run::generatedTokensPerS).toArray()));
      m.put("generated_tokens_per_s_vs_first", tokensRatio);
      m.put("generated_tokens_per_s_vs_first_median", median(tokensRatio));
      m.put("trained_tokens_per_s_median", median(mine.stream().mapToDouble(Run::trainedTokensPerS).toArray()));
      m.put("peak_rss_gb", mine.stream().mapToDouble(Run::peakRssGb).toArray());
      putIfEveryRunHas(m, "rollout_fraction_of_read_bandwidth", mine.stream().mapToDouble(Run::readBandwidthFraction));
      putIfEveryRunHas(m, "learn_fraction_of_gemm", mine.stream().mapToDouble(Run::learnFractionOfGemm));
      putIfEveryRunHas(m, "iteration_vs_pytorch", mine.stream().mapToDouble(Run::iterationVsPytorch));
      putIfEveryRunHas(m, "pytorch_iteration_seconds", mine.stream().mapToDouble(Run::pytorchIteration));
      putIfEveryRunHas(m, "load", mine.stream().mapToDouble(Run::load));
      out.add(m);
    }
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("rounds", first.size());
    s.put("base", String.join(" ", base));
    s.put("variants", out);
    s.put("runs_not_idle", runs.stream().flatMap(List::stream).filter(r -> !r.idle()).count());
    return s;
  }

  /** A figure by round and its median, where every run has it. */
  private static void putIfEveryRunHas(Map<String, Object> m, String key, java.util.stream.DoubleStream values) {
    double[] v = values.toArray();
    if (Arrays.stream(v).anyMatch(Double::isNaN)) return;
    m.put(key, v);
    m.put(key + "_median", median(v));
  }

  private void print(PrintWriter out, Map<String, Object> summary) {
    String base = summary.get("base").toString();
    out.printf("%n%s rounds, interleaved; base options: %s%n", summary.get("rounds"), base.isEmpty() ? "(none)" : base);
    out.printf("%-40s %-24s %-9s %-32s %-18s %s%n", "variant", "iteration s (range)", "vs first", "vs first, by round",
        "gen tokens/s", "peak RSS GB");
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> vs = (List<Map<String, Object>>) summary.get("variants");
    for (Map<String, Object> m : vs) {
      double[] it = (double[]) m.get("iteration_seconds");
      double[] peak = (double[]) m.get("peak_rss_gb");
      StringBuilder byRound = new StringBuilder();
      for (double r : (double[]) m.get("iteration_vs_first")) byRound.append(String.format("%.2f ", r));
      out.printf("%-40s %-24s %-9s %-32s %-18s %.2f-%.2f%n", m.get("options"),
          String.format("%.3f (%.3f-%.3f)", m.get("iteration_median"), min(it), max(it)),
          String.format("%.3fx", m.get("iteration_vs_first_median")), byRound.toString().strip(),
          String.format("%.0f (%.2fx)", m.get("generated_tokens_per_s_median"),
              m.get("generated_tokens_per_s_vs_first_median")), min(peak), max(peak));
      List<String> parts = new ArrayList<>();
      @SuppressWarnings("unchecked")
      Map<String, Double> ph = (Map<String, Double>) m.get("phases_median");
      ph.forEach((k, v) -> parts.add(String.format("%s %.3f", k, v)));
      if (m.get("rollout_fraction_of_read_bandwidth_median") instanceof Double f) {
        parts.add(String.format("rollout at %.0f%% of read bandwidth", 100 * f));
      }
      if (m.get("learn_fraction_of_gemm_median") instanceof Double f) {
        parts.add(String.format("learn at %.0f%% of the GEMM rate", 100 * f));
      }
      if (m.get("iteration_vs_pytorch_median") instanceof Double f) {
        String theirs = m.get("pytorch_iteration_seconds_median") instanceof Double p
            ? String.format("its iteration %.3f s; ", p) : "";
        parts.add(String.format("vs plain PyTorch %.2fx (%sby round %s)", f, theirs,
            Arrays.toString(Arrays.stream((double[]) m.get("iteration_vs_pytorch")).map(x -> Math.round(x * 100) / 100.0)
                .toArray())));
      }
      if (m.get("load") instanceof double[] load) parts.add(String.format("load at most %.1f%%", 100 * max(load)));
      out.printf("%-40s medians: %s%n", "", String.join("  ", parts));
    }
    if (summary.get("runs_not_idle") instanceof Long n && n > 0) {
      out.printf("NOT IDLE: in %d run%s other processes or the hypervisor took %.0f%% or more of the CPUs' time; "
          + "those rounds' ratios are not an idle machine's%n", n, n == 1 ? "" : "s", 100 * MachineLoad.IDLE_LIMIT);
    }
  }

  private static double min(double[] v) {
    return Arrays.stream(v).min().orElse(Double.NaN);
  }

  private static double max(double[] v) {
    return Arrays.stream(v).max().orElse(Double.NaN);
  }

  /** The median; for an even count the mean of the middle two. */
  static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
}
