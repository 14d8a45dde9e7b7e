package org.rlhf4j.dpo;

import java.util.List;
import java.util.Map;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.engine.Dpo;
import org.rlhf4j.engine.DpoOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.train.SupervisedStep.Measure;
import org.rlhf4j.train.SupervisedStep.Objective;
import org.rlhf4j.train.SupervisedTrainer;

/**
 * Direct preference optimisation and its family (TRL's DPOTrainer): the policy learns from
 * preference pairs against a frozen reference, no reward model and no sampling. Each pair
 * weighs the same in its batch; both sides of a micro-batch run in one forward pass; batches,
 * schedule, checkpoints, resume and data parallelism are {@link SupervisedTrainer}'s.
 *
 * <p>Each metrics.jsonl line has train/loss and TRL's rewards/chosen, rewards/rejected,
 * rewards/accuracies, rewards/margins, logps/chosen, logps/rejected, logits/chosen,
 * logits/rejected and num_tokens (the step's tokens); an evaluation adds the same under eval/.
 * train/accuracy is rewards/accuracies.
 */
public final class DpoTrainer extends SupervisedTrainer<DpoPair, DpoRunConfig, DpoParts> {

  public DpoTrainer(DpoRunConfig config, DpoParts parts) {
    super("dpo", config, parts, new DpoObjective(parts.model(), parts.reference(), config.dpo().options(),
        parts.tokenizer().paddingId()), config.dpo().schedule(), config.optim(), config.run(), config.data().shuffle());
  }

  /** The loss of a micro-batch of pairs against the reference's log-probs. */
  static final class DpoObjective implements Objective<DpoPair> {
    private final Model policy;
    private final Reference reference;
    private final DpoOptions options;
    private final int pad;
    private final DpoMetrics metrics = new DpoMetrics();

    DpoObjective(Model policy, Reference reference, DpoOptions options, int pad) {
      this.policy = policy;
      this.reference = reference;
      this.options = options;
      this.pad = pad;
    }

    @Override
    public double weight(DpoPair pair) {
      return 1;
    }

    @Override
    public int tokens(DpoPair pair) {
      return pair.tokens();
    }

    @Override
    public int rowsPerExample() {
      return 2;
    }

    @Override
    public Measure measure(List<DpoPair> micro, double scale, boolean backward) {
      DpoBatch batch = DpoBatch.of(micro, pad);
      double[] ref = reference == null ? null : reference.logps(micro, batch);
      Dpo.Result r = Dpo.loss(policy, batch.tokens(), batch.completionMask(), ref, options, scale, backward);
      metrics.add(r.stats());
      return new Measure(r.stats().loss(), r.stats().accuracies() / r.stats().pairs());
    }

    @Override
    public Map<String, Double> drainMetrics(boolean overRanks) {
      return metrics.drain(overRanks, options.rpoAlpha() > 0);
    }
  }
}
