package org.rlhf4j.cli;

import java.nio.file.Path;
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
        "Leaves DIR/sft, DIR/rm, DIR/ppo, DIR/summary.json and DIR/report.html."})
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

  @Option(names = "--algo", paramLabel = "ppo|grpo|dr_grpo|dapo|rloo|reinforce_pp",
      description = "RL algorithm: ppo (with --preset) or a critic-free preset of the same loop. Default: "
          + "${DEFAULT-VALUE}.")
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
      options = new Demo.Options(dir, quick ? DemoScale.quick() : DemoScale.full(), preset, seed, algo, reward,
          precision);
      Demo.refuseExistingRun(dir);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    DemoSummary s = new Demo(options).run();
    var w = spec.commandLine().getOut();
    w.printf("%nrlhf4j demo (%s preset, reward %s%s, %s) in %s%n", s.preset(), s.reward(), quick ? ", quick" : "",
        dtype, dir);
    w.printf("reward model held-out pairwise accuracy: %.3f%n", s.rmAccuracy());
    w.printf("%-28s %10s %10s%n", "held-out prompts", "SFT", algo.toUpperCase(java.util.Locale.ROOT));
    for (String row : s.before().keySet()) {
      w.printf("%-28s %10.3f %10.3f%n", row, shown(s.before().get(row)), shown(s.after().get(row)));
    }
    w.printf("total %.0f s; report: %s%n", s.seconds().get("total"), dir.resolve("report.html"));
    return Main.OK;
  }

  /** Rounded before printing: float noise such as the SFT policy's KL of -1e-7 to itself shows as 0.000, not -0.000. */
  private static double shown(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
