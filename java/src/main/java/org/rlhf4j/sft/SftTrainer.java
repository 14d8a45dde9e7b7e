package org.rlhf4j.sft;

import java.util.List;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.train.SftExample;
import org.rlhf4j.train.SupervisedStep.Measure;
import org.rlhf4j.train.SupervisedStep.Objective;
import org.rlhf4j.train.SupervisedTrainer;

/**
 * Supervised fine-tuning with the causal LM loss, as TRL's SFTTrainer does it: on
 * prompt-completion examples the loss covers only the completion (and EOS), on plain texts
 * every token. Batches, gradient accumulation, learning-rate schedule, held-out evaluation,
 * metrics and checkpoints are {@link SupervisedTrainer}'s; the loss of a batch is its mean per
 * target token.
 *
 * <p>The saved model's directory is found by {@code ModelDirs.resolve(run.out)}, so PPO
 * (model.path) starts from it.
 */
public final class SftTrainer extends SupervisedTrainer<SftExample, SftRunConfig, SftParts> {
  /**
   * A trainer over parts, which it now owns (and closes when this constructor fails).
   *
   * @throws org.rlhf4j.config.ConfigException when sft.warmup_steps is not below the run's steps
   */
  public SftTrainer(SftRunConfig config, SftParts parts) {
    super("sft", config, parts, new LmObjective(parts.model(), parts.tokenizer().paddingId()), config.sft(), config.optim(),
        config.run(), config.data().shuffle());
  }

  /** The causal LM loss over each example's targets; an example weighs its target tokens. */
  private record LmObjective(Model model, int pad) implements Objective<SftExample> {
    @Override
    public double weight(SftExample example) {
      return example.targets();
    }

    @Override
    public int tokens(SftExample example) {
      return example.tokens().length;
    }

    @Override
    public int rowsPerExample() {
      return 1;
    }

    @Override
    public Measure measure(List<SftExample> micro, double scale, boolean backward) {
      SftBatch b = SftBatch.of(micro, pad);
      return new Measure(model.lmLoss(b.batch(), b.lossMask(), scale, backward).loss(), Double.NaN);
    }
  }

  /** The mean loss per target token over examples, without gradient (dropout off). */
  public double loss(List<SftExample> examples) {
    return evaluate(examples).loss();
  }

  /** Trains and saves (see {@link #train()}); the result with the data's counts. */
  public SftResult run() {
    Outcome o = train();
    SftData d = parts().data();
    return new SftResult(o.trainLoss(), o.evalLoss(), o.steps(), d.train().size(), d.eval().size(),
        d.skippedTooLong(), d.truncated(), o.skippedSteps(), o.checkpoint());
  }
}
