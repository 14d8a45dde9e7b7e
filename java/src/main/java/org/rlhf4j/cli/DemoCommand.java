package org.rlhf4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import org.rlhf4j.config.Precision;
import org.rlhf4j.demo.Demo;
import org.rlhf4j.demo.DemoScale;
import org.rlhf4j.demo.DemoSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The main job on the built-in task: SFT, reward model, PPO, judged by hidden judges. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Run RLHF end to end on the built-in review task, with no downloads: SFT of a tiny GPT,",
        "a reward model from noisy preference pairs, PPO against it, and a before/after comparison",
        "on held-out prompts by the task's hidden judges (gold sentiment, grammatical validity).",
        "Several --algo run from the same SFT policy and reward model, compared side by side.",
        "Leaves DIR/sft, DIR/rm, DIR/<algo> (DIR/ppo for PPO), DIR/summary.json and DIR/report.html."})
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Run directory (default: runs/demo-<date>-<time>); must not exist or be empty.")
  Path out;

  @Option(names = "--quick", description = "A shortened run (smaller model, fewer steps), as CI runs it.")
  boolean quick;

  @Option(names = "--preset", paramLabel = "seed|standard",
      description = "PPO preset: seed (the seed algorithm) or standard (TRL-like). Default: ${DEFAULT-VALUE}.")
  String preset = "standard";

  @Option(names = "--algo", paramLabel = "ppo|grpo|dr_grpo|dapo|rloo|reinforce_pp|dpo",
      description = "Algorithm: ppo (with --preset), a critic-free preset of the same loop, or dpo (offline, on "
          + "the reward model's pairs); several, comma-separated (or all), run one after another and are "
          + "compared. Default: ${DEFAULT-VALUE}.")
  String algo = "ppo";

  @Option(names = "--reward", paramLabel = "model|gold",
      description = "Score RL with the reward model (RLHF) or the task's gold judge as a verifiable Java reward "
          + "(RLVR). Default: ${DEFAULT-VALUE}.")
  String reward = "model";

  @Option(names = "--seed", description = "Seed of the task, the data and every stage. Default: ${DEFAULT-VALUE}.")
  long seed = 1;

  @Option(names = "--dtype", paramLabel = "f32|bf16",
      description = "model.dtype of every stage (bf16: bf16 weights and products, float32 master weights). Default: ${DEFAULT-VALUE}.")
  String dtype = "f32";

  @Override
  public Integer call() throws Exception {
    Path dir = out != null ? out
        : Path.of("runs", "demo-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    Demo.Options options;
    try {
      Precision precision = switch (dtype) {
        case "f32" -> Precision.F32;
        case "bf16" -> Precision.BF16;
        default -> throw new IllegalArgumentException("--dtype must be f32 or bf16, got '" + dtype + "'");
      };
      List<String> algos = algo.equals("all") ? Demo.ALGORITHMS
          : Arrays.stream(algo.split(",", -1)).map(String::strip).toList();
      options = new Demo.Options(dir, quick ? DemoScale.quick() : DemoScale.full(), preset, seed, algos, reward,
          precision);
      Demo.refuseExistingRun(dir);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    DemoSummary s = new Demo(options).run();
    var w = spec.commandLine().getOut();
    String presets = String.join(", ", s.runs().stream().map(r -> r.algo() + " (" + r.preset() + ")").toList());
    w.printf("%nrlhf4j demo (%s; reward %s%s, %s) in %s%n", presets, s.reward(), quick ? ", quick" : "", dtype, dir);
    w.printf("reward model held-out pairwise accuracy: %.3f%n", s.rmAccuracy());
    w.printf("%-28s %12s", "held-out prompts", "SFT");
    for (var r : s.runs()) w.printf(" %12s", r.algo());
    w.println();
    for (String row : s.before().keySet()) {
      w.printf("%-28s %12.3f", row, shown(s.before().get(row)));
      for (var r : s.runs()) w.printf(" %12.3f", shown(r.after().get(row)));
      w.println();
    }
    w.printf("%-28s %12s", "RL stage seconds", "");
    for (var r : s.runs()) w.printf(" %12.0f", r.seconds());
    w.printf("%n%-28s %12s", "RL stage peak RSS (GB)", "");
    for (var r : s.runs()) w.printf(" %12.2f", r.peakRssGb());
    w.printf("%ntotal %.0f s; report: %s%n", s.seconds().get("total"), dir.resolve("report.html"));
    return Main.OK;
  }

  /** Rounded before printing: float noise such as the SFT policy's KL of -1e-7 to itself shows as 0.000, not -0.000. */
  private static double shown(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
