package org.rlhf4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Progress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run every trainer shares, around a {@link Trainable}'s steps: run.out and its
 * metrics.jsonl (created, or resumed after the last checkpointed line, with its TensorBoard
 * events), the progress bar or lines, {@link #requestStop()}, the time budget, the eval and
 * checkpoint cadence (atomic, with a COMPLETE marker: {@link RunCheckpoints}) and run.resume.
 *
 * <p>Data parallelism ({@link Distributed#current()}): every rank starts from rank 0's weights;
 * the stop and time-budget decisions are taken over all ranks, so every rank stops after the
 * same step; before each checkpoint the ranks check that their weights are still bitwise
 * equal; rank 0 alone writes.
 *
 * <p>Not thread-safe, except {@link #requestStop()}.
 */
public final class TrainingLoop {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);

  /** Called on the training thread after each step with its metrics.jsonl line. */
  @FunctionalInterface
  public interface StepListener {
    void onStep(long step, Map<String, Double> metrics);
  }

  private final Trainable trainer;
  private final RunSection run;
  private final Distributed dist = Distributed.current();
  private final List<StepListener> listeners = new CopyOnWriteArrayList<>();
  private volatile boolean stopRequested;
  private Path lastCheckpoint;

  /**
   * The loop over trainer, whose state is set up; with run.resume it first continues from the
   * newest complete checkpoint in run.out (when there is one). Then every rank takes rank 0's
   * weights.
   *
   * @throws IllegalArgumentException when that checkpoint is of another seed or run
   */
  public TrainingLoop(Trainable trainer, RunSection run) {
    this.trainer = trainer;
    this.run = run;
    if (run.resume()) checkpoints().latest().ifPresent(this::restore);
    trainer.models().values().forEach(dist::broadcastWeights);
  }

  public void addListener(StepListener listener) {
    listeners.add(listener);
  }

  /**
   * Asks {@link #run()} to stop before its next step (it then checkpoints as at the end of a
   * run); callable from any thread, e.g. a job service cancelling the run.
   */
  public void requestStop() {
    stopRequested = true;
  }

  /**
   * Whether a stop was requested on some rank: a collective, so every rank must ask at the same
   * points. A trainer asks it between the phases of a long step to give the step up.
   */
  public boolean stopPending() {
    return dist.any(stopRequested);
  }

  /**
   * Runs steps until the trainer's total, a {@link #requestStop()} or the time budget, writing
   * metrics.jsonl, evaluating and checkpointing as the trainer asks; then checkpoints unless
   * the last step just did. Returns whether every step of the run is done.
   */
  public boolean run() {
    Path out = run.out();
    try {
      if (dist.isMain()) Files.createDirectories(out);
      Path metricsFile = out.resolve(MetricsLog.FILE_NAME);
      long budgetStart = System.nanoTime();
      try (MetricsLog log = !dist.isMain() ? null
              : trainer.position() == 0 ? MetricsLog.create(metricsFile)
              : MetricsLog.resume(metricsFile, trainer.position());
          Progress progress = Progress.start(trainer.label(), trainer.position(), trainer.total(),
              dist.isMain() ? Progress.Mode.fromSystemProperty() : Progress.Mode.OFF)) {
        Map<String, Double> shown = new LinkedHashMap<>();
        while (trainer.position() < trainer.total()) {
          if (dist.any(stopRequested)) {
            LOG.info("{}: stop requested; stopping after step {} of {}", trainer.label(), trainer.position(),
                trainer.total());
            break;
          }
          // The budget is rank 0's clock, so every rank stops after the same step.
          var budget = trainer.timeBudget();
          if (budget != null && dist.any(dist.isMain() && System.nanoTime() - budgetStart > budget.toNanos())) {
            LOG.info("time budget {} spent after step {}; stopping", budget, trainer.position());
            break;
          }
          Map<String, Double> metrics = trainer.step();
          if (metrics == null) {
            LOG.info("{}: stop requested; step {} given up, stopping after step {} of {}", trainer.label(),
                trainer.position() + 1, trainer.position(), trainer.total());
            break;
          }
          long at = trainer.position();
          if (trainer.evalDue(at)) metrics.putAll(trainer.evaluate());
          if (log != null) log.append(at, metrics);
          if (trainer.checkpointDue(at)) saveCheckpoint();
          trainer.finished(at, metrics);
          for (StepListener l : listeners) l.onStep(at, metrics);
          for (Map.Entry<String, String> e : trainer.shown()) {
            if (metrics.containsKey(e.getKey())) shown.put(e.getValue(), metrics.get(e.getKey()));
          }
          progress.metrics(shown);
          progress.stepTo(at);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing to " + out + ": " + e.getMessage(), e);
    }
    trainer.ended();
    // Rank 0 reads the run directory; every rank takes the decision (saving is a collective).
    boolean finalSave = !trainer.checkpointDue(trainer.position())
        || (dist.isMain() && checkpoints().latest().isEmpty());
    if (dist.any(finalSave)) saveCheckpoint();
    return trainer.position() >= trainer.total();
  }

  /** The newest checkpoint this loop wrote or would write at the current position. */
  public Path lastCheckpoint() {
    return lastCheckpoint != null ? lastCheckpoint : checkpoints().pathFor(trainer.position());
  }

  /**
   * Writes a checkpoint of the current position into run.out/checkpoints; returns its path. In a
   * data-parallel job every rank calls it: the ranks first check that their weights are still
   * bitwise equal, then rank 0 alone writes.
   */
  public Path saveCheckpoint() {
    trainer.models().forEach(dist::requireSameWeights);
    RunCheckpoints checkpoints = checkpoints();
    if (!dist.isMain()) return lastCheckpoint = checkpoints.pathFor(trainer.position());
    lastCheckpoint = checkpoints.save(trainer.position(), trainer.checkpoint(trainer.position() >= trainer.total()));
    LOG.info("checkpoint {}", lastCheckpoint);
    return lastCheckpoint;
  }

  private RunCheckpoints checkpoints() {
    return new RunCheckpoints(run.out(), trainer.keepCheckpoints());
  }

  private void restore(Path dir) {
    Checkpoint c = Checkpoint.open(dir);
    JsonNode state = c.trainerState().orElseThrow(() -> new IllegalStateException(dir + ": no trainer_state.json"));
    long seed = state.path("seed").asLong();
    if (seed != run.seed()) {
      throw new IllegalArgumentException("run.seed is " + run.seed() + " but the checkpoint " + dir
          + " was made with seed " + seed + ": resume with the same seed");
    }
    trainer.restore(c, state, dir);
    LOG.info("resumed from {} (iteration {})", dir, trainer.position());
  }
}
