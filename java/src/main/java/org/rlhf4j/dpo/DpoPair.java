package org.rlhf4j.dpo;

import java.util.Arrays;

/**
 * A preference as DPO scores it: the prompt's tokens and each side's completion tokens (EOS
 * last unless dpo.max_length cut it). The log-probs are summed over the completions only.
 * Arrays are not copied: treat them as immutable.
 *
 * @param line the pair's line (Parquet: row) in its data file
 */
public record DpoPair(int line, int[] prompt, int[] chosen, int[] rejected) {
  public DpoPair {
    if (prompt.length == 0 || chosen.length == 0 || rejected.length == 0) {
      throw new IllegalArgumentException("a DPO pair needs a prompt and a token on each side");
    }
  }

  /** The tokens of each of the pair's padded rows: prompt + the longer side. */
  public int tokens() {
    return prompt.length + Math.max(chosen.length, rejected.length);
  }

  /** prompt + chosen */
  public int[] chosenSequence() {
    return concat(prompt, chosen);
  }

  /** prompt + rejected */
  public int[] rejectedSequence() {
    return concat(prompt, rejected);
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DpoPair p && line == p.line && Arrays.equals(prompt, p.prompt)
        && Arrays.equals(chosen, p.chosen) && Arrays.equals(rejected, p.rejected);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * (31 * line + Arrays.hashCode(prompt)) + Arrays.hashCode(chosen)) + Arrays.hashCode(rejected);
  }

  @Override
  public String toString() {
    return "DpoPair[" + line + ", prompt=" + Arrays.toString(prompt) + ", chosen=" + Arrays.toString(chosen)
        + ", rejected=" + Arrays.toString(rejected) + "]";
  }
}
