package org.rlhf4j.dpo;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.Dpo;
import org.rlhf4j.engine.Model;
import org.rlhf4j.train.TokenBudget;

/**
 * Where the frozen reference's summed log-probs come from: a model of its own, the policy's
 * base with its LoRA adapters off (no second copy of the weights), or computed once before
 * training (dpo.precompute_ref_logprobs), after which no reference model is held.
 */
public interface Reference extends AutoCloseable {
  /** The reference's summed completion log-probs of batch's rows: [chosen..., rejected...]. */
  double[] logps(List<DpoPair> pairs, DpoBatch batch);

  /** Frees a reference model this holds (not the policy). */
  @Override
  default void close() {}

  /** A frozen model of its own, which this owns. */
  static Reference model(Model reference) {
    return new Reference() {
      @Override
      public double[] logps(List<DpoPair> pairs, DpoBatch batch) {
        return Dpo.sequenceLogps(reference, batch.tokens(), batch.completionMask()).logps();
      }

      @Override
      public void close() {
        reference.close();
      }
    };
  }

  /** The LoRA policy's base: adapters off for the pass, back on after it. */
  static Reference base(Model policy) {
    return (pairs, batch) -> {
      policy.setAdaptersEnabled(false);
      try {
        return Dpo.sequenceLogps(policy, batch.tokens(), batch.completionMask()).logps();
      } finally {
        policy.setAdaptersEnabled(true);
      }
    };
  }

  /**
   * Every pair's log-probs from source, computed now in micro-batches of micro pairs (or, with a
   * token budget above 0, cut by dpo.max_tokens_per_micro_batch as training cuts them); source
   * is closed afterwards, so its model is freed before training starts.
   */
  static Reference precomputed(Reference source, List<List<DpoPair>> sets, int micro, int budget, int pad) {
    Map<DpoPair, double[]> table = new IdentityHashMap<>();
    try (source) {
      for (List<DpoPair> set : sets) {
        for (List<DpoPair> chunk : TokenBudget.microBatches(set, micro, budget, DpoPair::tokens, 2)) {
          double[] l = source.logps(chunk, DpoBatch.of(chunk, pad));
          for (int i = 0; i < chunk.size(); i++) table.put(chunk.get(i), new double[] {l[i], l[chunk.size() + i]});
        }
      }
    }
    return (pairs, batch) -> {
      double[] out = new double[2 * pairs.size()];
      for (int i = 0; i < pairs.size(); i++) {
        double[] l = table.get(pairs.get(i));
        if (l == null) throw new IllegalStateException("no precomputed reference log-probs for " + pairs.get(i));
        out[i] = l[0];
        out[pairs.size() + i] = l[1];
      }
      return out;
    };
  }
}
