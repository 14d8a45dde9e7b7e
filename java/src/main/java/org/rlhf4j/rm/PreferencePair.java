package org.rlhf4j.rm;

import java.util.Arrays;
import java.util.Objects;

/**
 * A preference as tokens: the same prompt followed by the chosen and by the rejected
 * completion, each ending with EOS. Immutable and thread-safe.
 *
 * @param chosen the preferred sequence (a copy is returned)
 * @param rejected the other sequence (a copy is returned)
 */
public record PreferencePair(int[] chosen, int[] rejected) {

  public PreferencePair {
    Objects.requireNonNull(chosen, "chosen");
    Objects.requireNonNull(rejected, "rejected");
    if (chosen.length == 0 || rejected.length == 0) {
      throw new IllegalArgumentException("a preference pair needs tokens on both sides");
    }
    chosen = chosen.clone();
    rejected = rejected.clone();
  }

  @Override
  public int[] chosen() {
    return chosen.clone();
  }

  @Override
  public int[] rejected() {
    return rejected.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PreferencePair p && Arrays.equals(chosen, p.chosen) && Arrays.equals(rejected, p.rejected);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(chosen) + Arrays.hashCode(rejected);
  }

  @Override
  public String toString() {
    return "PreferencePair[chosen=" + Arrays.toString(chosen) + ", rejected=" + Arrays.toString(rejected) + "]";
  }
}
