package org.rlhf4j.train;

import java.util.Arrays;
import java.util.Objects;

/**
 * One supervised example as tokens and which of them take a loss (each predicted from everything
 * before it). A prompt-completion example's targets are its completion and EOS (every token
 * from promptLength on); a plain text's are every token after the first; a conversation's are
 * its assistant turns' tokens. Immutable and thread-safe.
 *
 * @param tokens the whole sequence, at least 2 tokens (a copy is returned)
 * @param promptLength how many leading tokens take no loss, less than tokens.length
 * @param lossMask per token, whether it is a target (never token 0, nothing before promptLength,
 *     at least one); a copy is returned
 */
public record SftExample(int[] tokens, int promptLength, boolean[] lossMask) {

  public SftExample {
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(lossMask, "lossMask");
    if (tokens.length < 2) throw new IllegalArgumentException("an SFT example needs at least 2 tokens");
    if (promptLength < 0 || promptLength >= tokens.length) {
      throw new IllegalArgumentException("prompt length " + promptLength + " must be in [0, " + tokens.length
          + ") so that a token is left to learn");
    }
    if (lossMask.length != tokens.length) {
      throw new IllegalArgumentException("loss mask of " + lossMask.length + " for " + tokens.length + " tokens");
    }
    int first = Math.max(1, promptLength);
    for (int t = 0; t < first; t++) {
      if (lossMask[t]) throw new IllegalArgumentException("token " + t + " cannot be a target");
    }
    tokens = tokens.clone();
    lossMask = lossMask.clone();
    if (count(lossMask) == 0) throw new IllegalArgumentException("an SFT example needs a target token");
  }

  /** Every token from max(1, promptLength) on is a target. */
  public SftExample(int[] tokens, int promptLength) {
    this(tokens, promptLength, suffix(tokens.length, Math.max(1, promptLength)));
  }

  /** Targets where mask is true; the tokens before the first of them are the prompt. */
  public static SftExample masked(int[] tokens, boolean[] mask) {
    int first = 0;
    while (first < mask.length && !mask[first]) first++;
    return new SftExample(tokens, Math.min(first, tokens.length - 1), mask);
  }

  @Override
  public int[] tokens() {
    return tokens.clone();
  }

  @Override
  public boolean[] lossMask() {
    return lossMask.clone();
  }

  /** Whether token t is a target. */
  public boolean isTarget(int t) {
    return lossMask[t];
  }

  public int length() {
    return tokens.length;
  }

  /** The first position with a loss: position 0 has no context to be predicted from. */
  public int firstTarget() {
    return Math.max(1, promptLength);
  }

  /** Positions with a loss. */
  public int targets() {
    return count(lossMask);
  }

  private static boolean[] suffix(int length, int from) {
    boolean[] mask = new boolean[length];
    if (from < length) Arrays.fill(mask, from, length, true);
    return mask;
  }

  private static int count(boolean[] mask) {
    int n = 0;
    for (boolean b : mask) if (b) n++;
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SftExample e && promptLength == e.promptLength && Arrays.equals(tokens, e.tokens)
        && Arrays.equals(lossMask, e.lossMask);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(tokens) + promptLength) + Arrays.hashCode(lossMask);
  }

  @Override
  public String toString() {
    return "SftExample[tokens=" + Arrays.toString(tokens) + ", promptLength=" + promptLength + "]";
  }
}
