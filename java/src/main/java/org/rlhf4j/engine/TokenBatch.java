package org.rlhf4j.engine;

import java.util.Arrays;
import java.util.List;

/**
 * A batch of token sequences as the ABI takes it: tokens [batch, seqLen] row-major with an
 * attention mask (1 = real token). Padding may sit left or right.
 *
 * <p>Thread-safe as long as nobody writes into the arrays, which are the caller's, not copies.
 */
public record TokenBatch(int[] tokens, byte[] mask, int batch, int seqLen) {
  public TokenBatch {
    if (batch < 0 || seqLen < 0 || tokens.length != batch * seqLen || mask.length != tokens.length) {
      throw new IllegalArgumentException("token batch: tokens and mask must both hold batch * seqLen = "
          + batch + " * " + seqLen + " entries");
    }
  }

  /** Rows [from, from + count) as a batch of their own (copies). */
  public TokenBatch rows(int from, int count) {
    if (from < 0 || count < 0 || from + count > batch) {
      throw new IllegalArgumentException("token batch: rows [" + from + ", " + (from + count) + ") of " + batch);
    }
    return new TokenBatch(Arrays.copyOfRange(tokens, from * seqLen, (from + count) * seqLen),
        Arrays.copyOfRange(mask, from * seqLen, (from + count) * seqLen), count, seqLen);
  }

  /** Sequences padded on the right with pad up to the longest. */
  public static TokenBatch rightPadded(List<int[]> sequences, int pad) {
    return padded(sequences, pad, false);
  }

  /** Sequences padded on the left with pad up to the longest (prompt layout). */
  public static TokenBatch leftPadded(List<int[]> sequences, int pad) {
    return padded(sequences, pad, true);
  }

  private static TokenBatch padded(List<int[]> sequences, int pad, boolean left) {
    int len = sequences.stream().mapToInt(s -> s.length).max().orElse(0);
    int b = sequences.size();
    int[] tokens = new int[b * len];
    byte[] mask = new byte[b * len];
    Arrays.fill(tokens, pad);
    for (int i = 0; i < b; i++) {
      int[] s = sequences.get(i);
      int at = i * len + (left ? len - s.length : 0);
      System.arraycopy(s, 0, tokens, at, s.length);
      Arrays.fill(mask, at, at + s.length, (byte) 1);
    }
    return new TokenBatch(tokens, mask, b, len);
  }

  /** Row i's real tokens, padding removed. */
  public int[] row(int i) {
    int n = 0;
    for (int t = 0; t < seqLen; t++) if (mask[i * seqLen + t] != 0) n++;
    int[] out = new int[n];
    int k = 0;
    for (int t = 0; t < seqLen; t++) if (mask[i * seqLen + t] != 0) out[k++] = tokens[i * seqLen + t];
    return out;
  }
}
