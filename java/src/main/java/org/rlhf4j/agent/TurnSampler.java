package org.rlhf4j.agent;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;

/**
 * One batched generate call of the episode loop: each context (the whole episode so far) is
 * continued by at most maxNewTokens tokens, row i's randomness from seeds[i] alone. {@link
 * #of(Model)} samples from the policy; tests may script it.
 */
public interface TurnSampler {
  /**
   * The tokens a row generated, their log-probs as sampled, the value head's outputs (null when not
   * recorded), and whether it stopped on EOS or the stop token (else it ran out of tokens).
   */
  record Piece(int[] tokens, float[] logprobs, float[] values, boolean stopped) {}

  /** The longest sequence (context + new tokens) the model reads. */
  int contextWindow();

  /** @param options sampling, EOS/stop and values; its maxNewTokens is replaced by maxNewTokens */
  List<Piece> sample(List<int[]> contexts, GenerateOptions options, int maxNewTokens, long[] seeds);

  /** The policy's batched, KV-cached generation ({@link Model#generate(List, GenerateOptions, long[])}). */
  static TurnSampler of(Model policy) {
    return new TurnSampler() {
      @Override
      public int contextWindow() {
        return (int) Math.min(Integer.MAX_VALUE, policy.config().nPositions());
      }

      @Override
      public List<Piece> sample(List<int[]> contexts, GenerateOptions o, int maxNewTokens, long[] seeds) {
        // A turn keeps the log-probs it decoded with (bf16/f16: no pass over its whole context per
        // turn); the learner's pass, where wanted, runs once over the finished episode.
        GenerateOptions capped = o.withMaxNewTokens(maxNewTokens).withKeepDecodingLogprobs(true);
        try (Rollout r = policy.generate(contexts, capped, seeds)) {
          int width = r.responseLen();
          int[] tokens = r.ints(RolloutField.RESPONSE_TOKENS), lengths = r.ints(RolloutField.RESPONSE_LENGTH);
          float[] logprobs = r.floats(RolloutField.OLD_LOGPROBS);
          float[] values = o.withValues() ? r.floats(RolloutField.OLD_VALUES) : null;
          byte[] ended = r.bytes(RolloutField.ENDED);
          List<Piece> out = new ArrayList<>(contexts.size());
          for (int b = 0; b < contexts.size(); b++) {
            int from = b * width, to = from + lengths[b];
            out.add(new Piece(Arrays.copyOfRange(tokens, from, to),
                Arrays.copyOfRange(logprobs, from, to),
                values == null ? null : Arrays.copyOfRange(values, from, to), ended[b] != 0));
          }
          return out;
        }
      }
    };
  }
}
