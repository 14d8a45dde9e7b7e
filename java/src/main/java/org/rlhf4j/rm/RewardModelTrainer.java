package org.rlhf4j.rm;

import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Model.PairResult;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.train.SupervisedStep.Measure;
import org.rlhf4j.train.SupervisedStep.Objective;
import org.rlhf4j.train.SupervisedTrainer;

/**
 * Reward-model training with the pairwise Bradley–Terry loss {@code -log sigmoid(r(chosen) -
 * r(rejected))}, as TRL's RewardTrainer does it: the reward is the scalar head's output at each
 * sequence's last real token. Pairs weigh the same; batches, gradient accumulation, schedule,
 * held-out loss and accuracy per epoch, metrics and checkpoints are {@link SupervisedTrainer}'s.
 *
 * <p>The saved model's config.json records the reward head (a sequence classifier with one
 * label), so PPO's reward.model_path loads it.
 */
public final class RewardModelTrainer extends SupervisedTrainer<PreferencePair, RmRunConfig, RmParts> {
  /**
   * A trainer over parts, which it now owns (and closes when this constructor fails).
   *
   * @throws org.rlhf4j.config.ConfigException when rm.warmup_steps is not below the run's steps
   */
  public RewardModelTrainer(RmRunConfig config, RmParts parts) {
    super("rm", config, parts, new PairwiseObjective(parts.model(), parts.tokenizer().paddingId()), config.rm(), config.optim(),
        config.run(), config.data().shuffle());
  }

  /** The Bradley–Terry loss of a micro-batch of pairs; accuracy is the share ranked right. */
  private record PairwiseObjective(Model model, int pad) implements Objective<PreferencePair> {
    @Override
    public double weight(PreferencePair pair) {
      return 1;
    }

    @Override
    public int tokens(PreferencePair pair) {
      return Math.max(pair.chosen().length, pair.rejected().length);
    }

    @Override
    public int rowsPerExample() {
      return 2;
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
    return new TokenBatch[] {both.rows(0, pairs.size()), both.rows(pairs.size(), pairs.size())};
  }

  /** Trains and saves (see {@link #train()}); the result with the data's counts. */
  public RmResult run() {
    Outcome o = train();
    PreferenceData d = parts().data();
    return new RmResult(o.trainLoss(), o.trainAccuracy(), o.evalLoss(), o.evalAccuracy(), o.steps(), d.train().size(),
        d.eval().size(), d.skippedTooLong(), d.truncated(), o.skippedSteps(), o.checkpoint());
  }
}
