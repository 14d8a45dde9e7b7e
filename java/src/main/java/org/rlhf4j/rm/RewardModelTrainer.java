package org.rlhf4j.rm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Model.PairResult;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.sft.SupervisedLoop;
import org.rlhf4j.sft.SupervisedLoop.Measure;
import org.rlhf4j.sft.SupervisedLoop.Outcome;

/**
 * Reward-model training with the pairwise Bradley–Terry loss {@code -log sigmoid(r(chosen) -
 * r(rejected))}, as TRL's RewardTrainer does it: the reward is the scalar head's output at each
 * sequence's last real token. Pairs weigh the same; batches, gradient accumulation, schedule,
 * held-out loss and accuracy per epoch and metrics are {@link SupervisedLoop}'s.
 *
 * <p>At the end the model is saved as run.out/checkpoints/iter-STEPS; its config.json records
 * the reward head (a sequence classifier with one label), so PPO's reward.model_path loads it.
 * With run.resume it continues from the newest checkpoint there.
 *
 * <p>Not thread-safe. {@link #close()} frees the optimizer and the model.
 */
public final class RewardModelTrainer implements AutoCloseable {
  private final RmRunConfig config;
  private final RmParts parts;
  private final SupervisedLoop<PreferencePair> loop;

  /**
   * A trainer over parts, which it now owns (and closes when this constructor fails).
   *
   * @throws org.rlhf4j.config.ConfigException when rm.warmup_steps is not below the run's steps
   */
  public RewardModelTrainer(RmRunConfig config, RmParts parts) {
    this.config = config;
    this.parts = parts;
    try {
      this.loop = new SupervisedLoop<>("rm", parts.model(), new PairwiseObjective(parts.model(), parts.padId()),
          parts.data().train(), parts.data().eval(), config.rm(), config.optim(), config.run(),
          config.data().shuffle());
    } catch (RuntimeException e) {
      parts.close();
      throw e;
    }
  }

  /** The Bradley–Terry loss of a micro-batch of pairs; accuracy is the share ranked right. */
  private record PairwiseObjective(Model model, int pad) implements SupervisedLoop.Objective<PreferencePair> {
    @Override
    public double weight(PreferencePair pair) {
      return 1;
    }

    @Override
    public Measure measure(List<PreferencePair> micro, double scale, boolean backward) {
      TokenBatch[] sides = sides(micro, pad);
      PairResult r = model.rmLoss(sides[0], sides[1], scale, backward);
      return new Measure(r.loss(), r.accuracy());
    }
  }

  /** Chosen and rejected sequences right-padded to one length (the longer side's): [chosen, rejected]. */
  static TokenBatch[] sides(List<PreferencePair> pairs, int pad) {
    List<int[]> sequences = new ArrayList<>(2 * pairs.size());
    for (PreferencePair p : pairs) sequences.add(p.chosen());
    for (PreferencePair p : pairs) sequences.add(p.rejected());
    TokenBatch both = TokenBatch.rightPadded(sequences, pad);
    int n = pairs.size() * both.seqLen();
    return new TokenBatch[] {
        new TokenBatch(Arrays.copyOf(both.tokens(), n), Arrays.copyOf(both.mask(), n), pairs.size(), both.seqLen()),
        new TokenBatch(Arrays.copyOfRange(both.tokens(), n, 2 * n), Arrays.copyOfRange(both.mask(), n, 2 * n),
            pairs.size(), both.seqLen())};
  }

  public RmRunConfig config() {
    return config;
  }

  public RmParts parts() {
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

  /** The mean pairwise loss and the accuracy over pairs, without gradient (dropout off). */
  public Measure evaluate(List<PreferencePair> pairs) {
    return loop.evaluate(pairs);
  }

  /**
   * Trains every epoch (the rest, after a resume), writes metrics.jsonl and saves the model; see
   * the class comment. After a {@link #requestStop()} it saves where it stopped.
   */
  public RmResult run() {
    Outcome o = loop.run(parts.modelConfig(), parts.tokenizerDir());
    Path saved = loop.saveCheckpoint(parts.modelConfig(), parts.tokenizerDir(), o);
    PreferenceData d = parts.data();
    return new RmResult(o.trainLoss(), o.trainAccuracy(), o.evalLoss(), o.evalAccuracy(), o.steps(), d.train().size(),
        d.eval().size(), d.skippedTooLong(), d.truncated(), o.skippedSteps(), saved);
  }

  @Override
  public void close() {
    loop.close();
    parts.close();
  }
}
