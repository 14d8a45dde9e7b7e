package org.rlhf4j.serve;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
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
import org.rlhf4j.train.TrainingLoop;

/**
 * One execution of a job on its device's worker thread, in this JVM: the trainer the CLI's
 * command would build from the run directory's config.yaml (with run.resume when resuming), run
 * to its end or to a stop request, after which it stops at the next iteration boundary (PPO) or
 * optimizer step (sft, train-rm) and checkpoints.
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
  /** The running trainer's requestStop, null before it exists and after it ends. */
  private volatile Runnable stopper;
  private volatile boolean stop;

  JobRun(JobKind kind, Path runDir, boolean resume) {
    this.kind = kind;
    this.runDir = runDir;
    this.resume = resume;
  }

  /** Asks the run to stop after its current iteration or step (before it starts: not to start). */
  void requestStop() {
    stop = true;
    Runnable s = stopper;
    if (s != null) s.run();
  }

  boolean stopRequested() {
    return stop;
  }

  /** Trains; returns whether the run reached its end (false: it stopped on request). */
  boolean run(Progress progress) throws IOException {
    Path config = runDir.resolve(JobManager.CONFIG_FILE);
    List<String> overrides = resume ? List.of("run.resume=true") : List.of();
    return switch (kind) {
      case PPO -> ppo(PpoRunConfig.loader().load(config, overrides), progress);
      case SFT -> {
        SftRunConfig c = SftRunConfig.loader().load(config, overrides);
        threads(c.run().threads());
        try (SftTrainer t = new SftTrainer(c, SftParts.load(c))) {
          yield supervised(t::requestStop, t::addListener, t.totalSteps(), progress, () -> t.run().steps());
        }
      }
      case TRAIN_RM -> {
        RmRunConfig c = RmRunConfig.loader().load(config, overrides);
        threads(c.run().threads());
        try (RewardModelTrainer t = new RewardModelTrainer(c, RmParts.load(c))) {
          yield supervised(t::requestStop, t::addListener, t.totalSteps(), progress, () -> t.run().steps());
        }
      }
    };
  }

  /** An sft or train-rm run: its steps are the job's iterations. */
  private boolean supervised(Runnable requestStop, Consumer<TrainingLoop.StepListener> listen, long total,
      Progress progress, LongSupplier train) {
    try {
      stopper = requestStop;
      if (stop) requestStop.run();
      progress.total(total);
      listen.accept((step, metrics) -> progress.iteration(step, metrics, List.of()));
      return train.getAsLong() >= total;
    } finally {
      stopper = null;
    }
  }

  private boolean ppo(PpoRunConfig cfg, Progress progress) throws IOException {
    threads(cfg.run().threads());
    PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg));
    try (t) {
      stopper = t::requestStop;
      if (stop) t.requestStop();
      progress.total(cfg.schedule().iterations());
      PpoReport report = new PpoReport();
      t.addListener(report);
      t.addListener(it -> progress.iteration(it.iteration(), it.metrics(), it.samples()));
      t.run();
      report.write(cfg);
      return t.iteration() >= cfg.schedule().iterations();
    } finally {
      stopper = null;
    }
  }

  private static void threads(int n) {
    if (n > 0) Engine.setThreads(n);
  }
}
