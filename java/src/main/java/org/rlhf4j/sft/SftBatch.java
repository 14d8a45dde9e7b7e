package org.rlhf4j.sft;

import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.train.SftExample;

/**
 * A micro-batch of SFT examples as {@link org.rlhf4j.engine.Model#lmLoss} takes it: the
 * sequences right-padded, and a loss mask [batch, seqLen] that is 1 exactly on each example's
 * targets (its completion and EOS, or its assistant turns), 0 elsewhere and on padding.
 * Immutable by convention.
 *
 * @param targets the number of 1s in lossMask: the tokens the loss averages over
 */
public record SftBatch(TokenBatch batch, byte[] lossMask, long targets) {

  /** The examples right-padded with pad. */
  public static SftBatch of(List<SftExample> examples, int pad) {
    List<int[]> sequences = new ArrayList<>(examples.size());
    for (SftExample e : examples) sequences.add(e.tokens());
    TokenBatch batch = TokenBatch.rightPadded(sequences, pad);
    byte[] lossMask = new byte[batch.tokens().length];
    long targets = 0;
    for (int i = 0; i < examples.size(); i++) {
      SftExample e = examples.get(i);
      for (int t = e.firstTarget(); t < e.length(); t++) if (e.isTarget(t)) lossMask[i * batch.seqLen() + t] = 1;
      targets += e.targets();
    }
    return new SftBatch(batch, lossMask, targets);
  }
}
