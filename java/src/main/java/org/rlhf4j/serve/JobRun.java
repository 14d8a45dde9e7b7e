package org.rlhf4j.serve;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.dpo.DpoParts;
import org.rlhf4j.dpo.DpoTrainer;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.ppo.PpoParts;
import org.rlhf4j.ppo.PpoReport;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.rm.RewardModelTrainer;
import org.rlhf4j.rm.RmParts;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftTrainer;
import org.rlhf4j.train.SupervisedParts;
import org.rlhf4j.train.SupervisedTrainer;

/**
 * One execution of a job on its device's worker thread, in this JVM: the trainer the CLI's
 * command would build from the job's config (the object checked at submit; a resumed job's is
 * reloaded from its run directory), run to its end or to a stop request. A stop while the run is
 * still loading ends it before the next loading step; once training, at the next iteration
 * boundary (PPO) or optimizer step (sft, train-rm, dpo), with a checkpoint.
 */
final class JobRun {
  /** What the run reports back to the manager (on the worker thread). */
  interface Progress {
    void total(long iterations);

    void iteration(long iteration, Map<String, Double> metrics, List<PpoTrainer.Sample> samples);
  }

  private final Supplier<Record> config;
  /** The running trainer's requestStop, null before it exists and after it ends. */
  private volatile Runnable stopper;
  private volatile boolean stop;

  /** @param config the job's config record (PpoRunConfig, SftRunConfig, RmRunConfig or DpoRunConfig), got on the worker */
  JobRun(Supplier<Record> config) {
    this.config = config;
  }

  /** Asks the run to stop after its current iteration or step (while loading: before training). */
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
    Record c = config.get();
    if (stop) return false;
    return switch (c) {
      case PpoRunConfig p -> ppo(p, progress);
      case SftRunConfig s -> supervised(s.run(), () -> SftParts.load(s), parts -> new SftTrainer(s, parts), progress);
      case RmRunConfig r -> supervised(r.run(), () -> RmParts.load(r), parts -> new RewardModelTrainer(r, parts),
          progress);
      case DpoRunConfig d -> supervised(d.run(), () -> DpoParts.load(d), parts -> new DpoTrainer(d, parts), progress);
      default -> throw new IllegalStateException("no trainer for " + c.getClass());
    };
  }

  /** What loads a supervised run's parts (it may read files). */
  @FunctionalInterface
  private interface Loader<P> {
    P load() throws IOException;
  }

  /** An sft, train-rm or dpo run: its optimizer steps are the job's iterations. */
  private <P extends SupervisedParts<?>> boolean supervised(RunSection run, Loader<P> load,
      Function<P, SupervisedTrainer<?, ?, P>> trainer, Progress progress) throws IOException {
    threads(run.threads());
    P parts = load.load();
    if (stop) {
      parts.close();
      return false;
    }
    try (SupervisedTrainer<?, ?, P> t = trainer.apply(parts)) {
      stopper = t::requestStop;
      if (stop) t.requestStop();
      progress.total(t.totalSteps());
      t.addListener((step, metrics) -> progress.iteration(step, metrics, List.of()));
      return t.train().steps() >= t.totalSteps();
    } finally {
      stopper = null;
    }
  }

  private boolean ppo(PpoRunConfig cfg, Progress progress) throws IOException {
    threads(cfg.run().threads());
    PpoParts parts = PpoSetup.load(cfg);
    PpoTrainer t;
    try {
      if (stop) {
        parts.close();
        return false;
      }
      t = new PpoTrainer(cfg, parts);
    } catch (RuntimeException e) {
      parts.close();
      throw e;
    }
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
