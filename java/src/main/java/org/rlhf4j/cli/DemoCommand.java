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
import org.rlhf4j.demo.tools.ToolsDemo;
import org.rlhf4j.demo.tools.ToolsScale;
import org.rlhf4j.demo.tools.ToolsSummary;
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
        "Leaves DIR/sft, DIR/rm, DIR/<algo> (DIR/ppo for PPO), DIR/summary.json and DIR/report.html.",
        "--task tools instead runs the demo that needs its tool: SFT on traces that call a menu tool or guess,",
        "then GRPO through the multi-turn episode loop with that tool and an exact-match reward, judged by",
        "exact-match accuracy and tool-call rate on held-out questions (DIR/sft, DIR/grpo, summary, report)."})
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Run directory (default: runs/demo-<date>-<time>); must not exist or be empty.")
  Path out;

  @Option(names = "--task", paramLabel = "review|tools",
      description = "The built-in task: review (RLHF on generated reviews) or tools (a task only a tool call "
          + "solves: GRPO with the tool through multi-turn episodes). Default: ${DEFAULT-VALUE}.")
  String task = "review";

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
    if (!Demo.TASKS.contains(task)) {
      throw new UsageException("--task must be one of " + String.join("|", Demo.TASKS) + ", got '" + task + "'");
    }
    if (task.equals("tools")) return tools(dir);
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

  /** The tools task: its options are --out, --quick and --seed; the review task's are refused, not ignored. */
  private int tools(Path dir) throws Exception {
    for (String[] option : new String[][] {{"--algo", algo, "ppo"}, {"--preset", preset, "standard"},
        {"--reward", reward, "model"}, {"--dtype", dtype, "f32"}}) {
      if (!option[1].equals(option[2])) {
        throw new UsageException(option[0] + " applies to --task review only (--task tools runs SFT then GRPO)");
      }
    }
    try {
      Demo.refuseExistingRun(dir);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    ToolsSummary s = new ToolsDemo(dir, quick ? ToolsScale.quick() : ToolsScale.full(), seed).run();
    var w = spec.commandLine().getOut();
    w.printf("%nrlhf4j demo --task tools (SFT, then GRPO with the menu tool%s) in %s%n", quick ? ", quick" : "", dir);
    w.printf("%-36s %10s %10s%n", s.questions() + " held-out questions, greedy", "SFT", "GRPO");
    for (String row : s.before().keySet()) {
      w.printf("%-36s %10.3f %10.3f%n", row, shown(s.before().get(row)), shown(s.after().get(row)));
    }
    w.printf("total %.0f s; report: %s%n", s.seconds().get("total"), dir.resolve("report.html"));
    return Main.OK;
  }

  /** Rounded before printing: float noise such as the SFT policy's KL of -1e-7 to itself shows as 0.000, not -0.000. */
  private static double shown(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
