package org.rlhf4j.serve;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.ppo.PpoReport;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.rm.RewardModelTrainer;
import org.rlhf4j.rm.RmParts;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftTrainer;

/**
 * One execution of a job on its device's worker thread, in this JVM: the trainer the CLI's
 * command would build from the run directory's config.yaml, run to its end or to a stop
 * request. PPO stops at the next iteration boundary and checkpoints; sft and train-rm have no
 * mid-run checkpoints and run to their end.
 */
final class JobRun {
  /** What the run reports back to the manager (on the worker thread). */
  interface Progress {
    void total(long iterations);

    void iteration(long iteration, Map<String, Double> metrics, List<PpoTrainer.Sample> samples);
  }

  private final JobKind kind;
  private final Path runDir;
  private final boolean resume;
  private volatile PpoTrainer trainer;
  private volatile boolean stop;

  JobRun(JobKind kind, Path runDir, boolean resume) {
    this.kind = kind;
    this.runDir = runDir;
    this.resume = resume;
  }

  /** Whether a stop request would be honoured at an iteration boundary. */
  boolean stoppable() {
    return kind == JobKind.PPO;
  }

  /** Asks a PPO run to stop after its current iteration (before it starts: not to start). */
  void requestStop() {
    stop = true;
    PpoTrainer t = trainer;
    if (t != null) t.requestStop();
  }

  boolean stopRequested() {
    return stop;
  }

  /** Trains; returns normally at the end or after a stop. */
  void run(Progress progress) throws IOException {
    Path config = runDir.resolve(JobManager.CONFIG_FILE);
    switch (kind) {
      case PPO -> ppo(PpoRunConfig.loader().load(config, resume ? List.of("run.resume=true") : List.of()), progress);
      case SFT -> {
        SftRunConfig c = SftRunConfig.loader().load(config, List.of());
        threads(c.run().threads());
        try (SftTrainer t = new SftTrainer(c, SftParts.load(c))) {
          progress.total(t.totalSteps());
          t.run();
        }
      }
      case TRAIN_RM -> {
        RmRunConfig c = RmRunConfig.loader().load(config, List.of());
        threads(c.run().threads());
        try (RewardModelTrainer t = new RewardModelTrainer(c, RmParts.load(c))) {
          progress.total(t.totalSteps());
          t.run();
        }
      }
    }
  }

  private void ppo(PpoRunConfig cfg, Progress progress) throws IOException {
    threads(cfg.run().threads());
    PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg));
    try (t) {
      trainer = t;
      if (stop) t.requestStop();
      progress.total(cfg.schedule().iterations());
      PpoReport report = new PpoReport();
      t.addListener(report);
      t.addListener(it -> progress.iteration(it.iteration(), it.metrics(), it.samples()));
      t.run();
      report.write(cfg);
    } finally {
      trainer = null;
    }
  }

  private static void threads(int n) {
    if (n > 0) Engine.setThreads(n);
  }
}
