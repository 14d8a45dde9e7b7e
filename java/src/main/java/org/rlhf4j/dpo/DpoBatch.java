package org.rlhf4j.dpo;

import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.engine.TokenBatch;

/**
 * A micro-batch of pairs as the native loss reads it: the chosen sequences, then the rejected
 * ones in the same order, right-padded to one length ([2B, T]), and the mask of their completion
 * tokens.
 */
public record DpoBatch(TokenBatch tokens, byte[] completionMask) {

  public static DpoBatch of(List<DpoPair> pairs, int pad) {
    List<int[]> sequences = new ArrayList<>(2 * pairs.size());
    for (DpoPair p : pairs) sequences.add(p.chosenSequence());
    for (DpoPair p : pairs) sequences.add(p.rejectedSequence());
    TokenBatch batch = TokenBatch.rightPadded(sequences, pad);
    byte[] mask = new byte[batch.tokens().length];
    for (int i = 0; i < 2 * pairs.size(); i++) {
      DpoPair p = pairs.get(i % pairs.size());
      int completion = i < pairs.size() ? p.chosen().length : p.rejected().length;
      int from = i * batch.seqLen() + p.prompt().length;
      for (int t = 0; t < completion; t++) mask[from + t] = 1;
    }
    return new DpoBatch(batch, mask);
  }
}
