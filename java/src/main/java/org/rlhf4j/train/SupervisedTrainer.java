package org.rlhf4j.train;

import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.config.OptimSection;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.train.SupervisedStep.Measure;
import org.rlhf4j.train.SupervisedStep.Objective;

/**
 * A supervised trainer (SFT, reward model): its {@link SupervisedStep} on the {@link
 * TrainingLoop}. A subclass gives the objective and turns the {@link Outcome} into its result.
 * At the end the model is saved as run.out/checkpoints/iter-STEPS with its config.json and the
 * starting model's tokenizer files; with run.resume it continues from the newest checkpoint
 * there.
 *
 * <p>Not thread-safe, except {@link #requestStop()}. {@link #close()} frees the optimizer and the
 * model.
 *
 * @param <E> an example
 * @param <C> the command's configuration
 * @param <P> the model and data
 */
public abstract class SupervisedTrainer<E, C, P extends SupervisedParts<E>> implements AutoCloseable {
  /**
   * What a run did.
   *
   * @param trainLoss the weighted mean loss over the last epoch's steps (those not skipped)
   * @param trainAccuracy the same for the accuracy (NaN when there is none)
   * @param evalLoss the last evaluation's loss, NaN when nothing is held out
   * @param evalAccuracy the last evaluation's accuracy, NaN when none
   * @param steps optimizer steps, skipped ones included
   * @param skippedSteps steps skipped for a NaN or Inf
   * @param complete whether every step of the run was taken (false: stopped by {@link
   *     #requestStop()})
   * @param checkpoint the checkpoint saved at the end
   */
  public record Outcome(double trainLoss, double trainAccuracy, double evalLoss, double evalAccuracy, long steps,
      long skippedSteps, boolean complete, Path checkpoint) {}

  private final String section;
  private final C config;
  private final P parts;
  private final SupervisedStep<E> step;
  private final TrainingLoop loop;
  private boolean ran;

  /**
   * A trainer over parts, which it now owns (and closes when this constructor fails).
   *
   * @param section the schedule's section (sft, rm)
   * @throws org.rlhf4j.config.ConfigException when the warm-up is not below the run's steps
   * @throws IllegalArgumentException when run.resume finds a checkpoint of another seed, batch
   *     size or length of run
   */
  protected SupervisedTrainer(String section, C config, P parts, Objective<E> objective, TrainSection schedule,
      OptimSection optim, RunSection run, boolean shuffle) {
    this.section = section;
    this.config = config;
    this.parts = parts;
    SupervisedStep<E> s = null;
    try {
      s = new SupervisedStep<>(section, parts, objective, schedule, optim, run, shuffle);
      this.loop = new TrainingLoop(s, run);
    } catch (RuntimeException e) {
      if (s != null) s.close();
      parts.close();
      throw e;
    }
    this.step = s;
  }

  public C config() {
    return config;
  }

  public P parts() {
    return parts;
  }

  /** Optimizer steps the run will take. */
  public long totalSteps() {
    return step.total();
  }

  /** Optimizer steps taken so far (including those before a resume). */
  public long steps() {
    return step.position();
  }

  /** Calls listener after every optimizer step, on the training thread. */
  public void addListener(TrainingLoop.StepListener listener) {
    loop.addListener(listener);
  }

  /**
   * Asks {@link #train()} to stop before its next optimizer step (callable from any thread); it
   * then saves a checkpoint from which run.resume continues.
   */
  public void requestStop() {
    loop.requestStop();
  }

  /** The weighted mean loss (and accuracy) over examples, without gradient (dropout off). */
  public Measure evaluate(List<E> examples) {
    return step.evaluate(examples);
  }

  /**
   * Trains every epoch (the rest, after a resume), writes metrics.jsonl and saves the model.
   * After a {@link #requestStop()} it saves where it stopped. Runs once.
   */
  public Outcome train() {
    if (ran) throw new IllegalStateException(section + ": the trainer has already run");
    ran = true;
    boolean complete = loop.run();
    Measure epoch = step.epochSoFar();
    Measure eval = step.lastEval();
    return new Outcome(epoch.loss(), epoch.accuracy(), eval.loss(), eval.accuracy(), step.position(),
        step.skippedSteps(), complete, loop.lastCheckpoint());
  }

  @Override
  public void close() {
    step.close();
    parts.close();
  }
}
