package org.rlhf4j.sft;

import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.sft.SupervisedLoop.Measure;
import org.rlhf4j.sft.SupervisedLoop.Outcome;

/**
 * Supervised fine-tuning with the causal LM loss, as TRL's SFTTrainer does it: on
 * prompt-completion examples the loss covers only the completion (and EOS), on plain texts
 * every token. Batches, gradient accumulation, learning-rate schedule, held-out evaluation and
 * metrics are {@link SupervisedLoop}'s; the loss of a batch is its mean per target token.
 *
 * <p>At the end the model is saved as run.out/checkpoints/iter-STEPS with its config.json and
 * the starting model's tokenizer files, so {@code ModelDirs.resolve(run.out)} finds it and PPO
 * (model.path) starts from it. With run.resume it continues from the newest checkpoint there.
 *
 * <p>Not thread-safe. {@link #close()} frees the optimizer and the model.
 */
public final class SftTrainer implements AutoCloseable {
  private final SftRunConfig config;
  private final SftParts parts;
  private final SupervisedLoop<SftExample> loop;

  /**
   * A trainer over parts, which it now owns (and closes when this constructor fails).
   *
   * @throws org.rlhf4j.config.ConfigException when sft.warmup_steps is not below the run's steps
   */
  public SftTrainer(SftRunConfig config, SftParts parts) {
    this.config = config;
    this.parts = parts;
    try {
      this.loop = new SupervisedLoop<>("sft", parts.model(), new LmObjective(parts.model(), parts.padId()),
          parts.data().train(), parts.data().eval(), config.sft(), config.optim(), config.run(),
          config.data().shuffle());
    } catch (RuntimeException e) {
      parts.close();
      throw e;
    }
  }

  /** The causal LM loss over each example's targets; an example weighs its target tokens. */
  private record LmObjective(Model model, int pad) implements SupervisedLoop.Objective<SftExample> {
    @Override
    public double weight(SftExample example) {
      return example.targets();
    }

    @Override
    public Measure measure(List<SftExample> micro, double scale, boolean backward) {
      SftBatch b = SftBatch.of(micro, pad);
      return new Measure(model.lmLoss(b.batch(), b.lossMask(), scale, backward).loss(), Double.NaN);
    }
  }

  public SftRunConfig config() {
    return config;
  }

  public SftParts parts() {
    return parts;
  }

  /** Optimizer steps the run will take. */
  public long totalSteps() {
    return loop.totalSteps();
  }

  /** Optimizer steps taken so far (including those before a resume). */
  public long steps() {
    return loop.steps();
  }

  /** Calls listener after every optimizer step, on the training thread. */
  public void addListener(SupervisedLoop.StepListener listener) {
    loop.addListener(listener);
  }

  /**
   * Asks {@link #run()} to stop before its next optimizer step (callable from any thread); it then
   * saves a checkpoint from which run.resume continues.
   */
  public void requestStop() {
    loop.requestStop();
  }

  /** The mean loss per target token over examples, without gradient (dropout off). */
  public double loss(List<SftExample> examples) {
    return loop.evaluate(examples).loss();
  }

  /**
   * Trains every epoch (the rest, after a resume), writes metrics.jsonl and saves the model; see
   * the class comment. After a {@link #requestStop()} it saves where it stopped.
   */
  public SftResult run() {
    Outcome o = loop.run(parts.modelConfig(), parts.tokenizerDir());
    Path saved = loop.saveCheckpoint(parts.modelConfig(), parts.tokenizerDir(), o);
    SftData d = parts.data();
    return new SftResult(o.trainLoss(), o.evalLoss(), o.steps(), d.train().size(), d.eval().size(),
        d.skippedTooLong(), d.truncated(), o.skippedSteps(), saved);
  }

  @Override
  public void close() {
    loop.close();
    parts.close();
  }
}
