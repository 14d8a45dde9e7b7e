package org.rlhf4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.PromptPool;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.ppo.PpoParts;
import org.rlhf4j.ppo.PpoReport;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.ppo.RolloutDump;
import org.rlhf4j.train.Distributed;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Runs PPO from a config file. Every input is read and checked before anything is written: the
 * config, then the models, tokenizer and prompts, then the run directory (a directory that
 * already holds a run is refused unless --resume). Only then is run.out created and the
 * effective config.yaml written; at the end come report.html and a summary on stdout.
 *
 * <p>Started with torchrun's (or Slurm's) environment, the process joins its data-parallel job
 * first; the ranks refuse to start when their configurations differ, and rank 0 alone writes.
 */
@Command(name = "ppo", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Train a policy with PPO against a reward model or a Java reward function.")
final class PpoCommand implements Callable<Integer> {
  private static final ConfigLoader<PpoRunConfig> LOADER = PpoRunConfig.loader();
  private static final List<String> SHOWN = List.of("objective/scores", "objective/kl", "objective/entropy",
      "loss/policy", "loss/value", "eval/scores", "eval/kl");

  private CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE",
      description = "YAML (or .json) config; keys it leaves out take their defaults (listed below).")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override one key, e.g. --set ppo.kl_coef=0.1 (repeatable; applied after the file).")
  List<String> sets = new ArrayList<>();

  @Option(names = "--preset", paramLabel = "seed|standard|grpo|dr_grpo|dapo|rloo|reinforce_pp",
      description = "Shorthand for --set ppo.preset=...")
  String preset;

  @Option(names = "--resume", description = "Continue the run in run.out from its newest checkpoint.")
  boolean resume;

  @Option(names = "--out", paramLabel = "DIR", description = "Shorthand for --set run.out=DIR.")
  Path out;

  @Option(names = "--dump-rollouts", paramLabel = "DIR",
      description = "Write every rollout to DIR/iter-NNNNNN.jsonl (settings line, then one object per sample).")
  Path dumpRollouts;

  /** Ends --help with the configuration keys. */
  @Spec
  void spec(CommandSpec spec) {
    this.spec = spec;
    RunDirectory.addConfigKeys(spec, LOADER);
  }

  @Override
  public Integer call() throws IOException {
    PpoRunConfig cfg = LOADER.load(config, overrides());
    if (cfg.run().threads() > 0) Engine.setThreads(cfg.run().threads());
    try (Distributed dist = Distributed.join(System.getenv(), cfg.run().distTimeout(), cfg.run().device())) {
      dist.requireSameConfig(LOADER.values(cfg));
      String device = dist.device(cfg.run().device());
      if (!device.equals(cfg.run().device())) {
        List<String> placed = new ArrayList<>(overrides());
        placed.add("run.device=" + device);
        cfg = LOADER.load(config, placed);
      }
      return train(cfg, dist);
    }
  }

  private int train(PpoRunConfig cfg, Distributed dist) throws IOException {
    PpoParts parts = setup(cfg);
    PpoTrainer trainer;
    try {
      if (!cfg.run().resume()) {
        RunDirectory.refuseExisting(cfg.run().out(),
            "pass --resume to continue it, or --out DIR to start a new one elsewhere");
      }
      trainer = new PpoTrainer(cfg, parts);
    } catch (RuntimeException e) {
      parts.close();
      throw e;
    }
    try (trainer) {
      Path runDir = cfg.run().out();
      if (dist.isMain()) {
        Files.createDirectories(runDir);
        LOADER.write(cfg, runDir.resolve(RunDirectory.CONFIG_FILE));
      }
      PpoReport report = new PpoReport();
      trainer.addListener(report);
      if (dumpRollouts != null && dist.isMain()) trainer.addRolloutObserver(new RolloutDump(dumpRollouts, trainer));
      long startIteration = trainer.iteration();
      long start = System.nanoTime();
      trainer.run();
      if (!dist.isMain()) return Main.OK;
      Path html = report.write(cfg);
      summary(spec.commandLine().getOut(), cfg, trainer.parts().prompts(), startIteration, trainer.iteration(),
          (System.nanoTime() - start) / 1e9, html);
    }
    return Main.OK;
  }

  /** --set in order, then the shorthands (so an explicit --preset, --resume or --out wins). */
  private List<String> overrides() {
    List<String> all = new ArrayList<>(sets);
    if (preset != null) all.add("ppo.preset=" + preset);
    if (resume) all.add("run.resume=true");
    if (out != null) all.add(RunDirectory.outOverride(out));
    return all;
  }

  /**
   * Models, tokenizer and prompts; a path or file the user got wrong is a usage error, named by
   * its key when the message shows which path it was.
   */
  private static PpoParts setup(PpoRunConfig cfg) {
    try {
      return PpoSetup.load(cfg);
    } catch (CheckpointException | IOException | UncheckedIOException e) {
      String message = String.valueOf(e.getMessage());
      Map<String, Path> paths = new LinkedHashMap<>();
      paths.put("model.path", cfg.model().path());
      paths.put("model.critic_path", cfg.model().criticPath());
      paths.put("reward.model_path", cfg.reward().modelPath());
      paths.put("data.prompts", cfg.data().prompts());
      paths.put("data.eval_prompts", cfg.data().evalPrompts());
      for (var p : paths.entrySet()) {
        // The path as a whole: "runs/sft" must not match inside "runs/sft2".
        if (p.getValue() != null && Pattern.compile(Pattern.quote(p.getValue().toString()) + "(?![\\w.-])")
            .matcher(message).find()) {
          throw new UsageException(p.getKey() + ": " + message);
        }
      }
      throw new UsageException(message);
    }
  }

  private void summary(PrintWriter w, PpoRunConfig cfg, PromptPool prompts, long from, long to, double seconds,
      Path html) throws IOException {
    Path runDir = cfg.run().out();
    List<MetricsRecord> records = MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME));
    if (to == from) {
      w.printf("ppo: nothing to run: the run is at iteration %d of %d (raise schedule.iterations to go on)%n", to,
          cfg.schedule().iterations());
    } else {
      w.printf(Locale.ROOT, "ppo: iterations %d-%d of %d in %.1f s%n", from + 1, to, cfg.schedule().iterations(),
          seconds);
    }
    if (!records.isEmpty()) {
      MetricsRecord last = records.getLast();
      w.printf("final metrics (iteration %d):%n", last.iteration());
      for (String k : SHOWN) {
        if (last.values().containsKey(k)) w.printf(Locale.ROOT, "  %-20s %.6g%n", k, last.get(k));
      }
    }
    w.printf(Locale.ROOT, "prompts        %d training, %d held out; %d skipped and %d truncated over"
        + " data.max_prompt_tokens %d (data.too_long %s)%n", prompts.size(), prompts.eval().size(),
        prompts.skippedTooLong(), prompts.truncated(), cfg.data().maxPromptTokens(),
        cfg.data().tooLong().name().toLowerCase(Locale.ROOT));
    w.printf("run directory  %s%n", runDir);
    new RunCheckpoints(runDir, Integer.MAX_VALUE).latest().ifPresent(c -> w.printf("checkpoint     %s%n", c));
    w.printf("metrics        %s%n", runDir.resolve(MetricsLog.FILE_NAME));
    w.printf("config         %s%n", runDir.resolve(RunDirectory.CONFIG_FILE));
    w.printf("report         %s%n", html);
    if (dumpRollouts != null) w.printf("rollouts       %s%n", dumpRollouts);
  }
}
