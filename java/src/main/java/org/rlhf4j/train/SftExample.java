package org.rlhf4j.train;

import java.util.Arrays;
import java.util.Objects;

/**
 * One supervised example as tokens: the prompt's tokens (no loss) followed by the completion's
 * and EOS (each predicted from everything before it). A plain-text example has prompt length 0:
 * every token after the first is a target. Immutable and thread-safe.
 *
 * @param tokens the whole sequence, at least 2 tokens (a copy is returned)
 * @param promptLength how many leading tokens take no loss, less than tokens.length
 */
public record SftExample(int[] tokens, int promptLength) {

  public SftExample {
    Objects.requireNonNull(tokens, "tokens");
    if (tokens.length < 2) throw new IllegalArgumentException("an SFT example needs at least 2 tokens");
    if (promptLength < 0 || promptLength >= tokens.length) {
      throw new IllegalArgumentException("prompt length " + promptLength + " must be in [0, " + tokens.length
          + ") so that a token is left to learn");
    }
    tokens = tokens.clone();
  }

  @Override
  public int[] tokens() {
    return tokens.clone();
  }

  public int length() {
    return tokens.length;
  }

  /** The first position with a loss: position 0 has no context to be predicted from. */
  public int firstTarget() {
    return Math.max(1, promptLength);
  }

  /** Positions with a loss: the completion's tokens and EOS (every token but the first for text). */
  public int targets() {
    return tokens.length - firstTarget();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SftExample e && promptLength == e.promptLength && Arrays.equals(tokens, e.tokens);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(tokens) + promptLength;
  }

  @Override
  public String toString() {
    return "SftExample[tokens=" + Arrays.toString(tokens) + ", promptLength=" + promptLength + "]";
  }
}
