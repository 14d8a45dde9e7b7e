package org.rlhf4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.ToIntFunction;
import java.util.stream.IntStream;

/**
 * Micro-batches by token count (verl's use_dynamic_bsz / ppo_max_token_len_per_gpu): the
 * examples of one (mini)batch are cut so that each micro-batch's padded tensor holds at most
 * budget tokens. A micro-batch is padded to its longest prompt plus its longest response (PPO's
 * native select() crops to exactly that), on each of rowsPerExample rows (2 for a preference
 * pair: chosen and rejected in one pass), so its cost is examples x rowsPerExample x (max prompt
 * + max response).
 *
 * <p>Balancing: the examples are sorted by length, longest first (ties by position, so the
 * split is deterministic), and taken in that order into a micro-batch while it stays within
 * the budget. Examples of like length share a micro-batch, so padding is small, and the count
 * of micro-batches is near the least the budget allows. An example longer than the budget on
 * its own gets a micro-batch of its own (it cannot be split). The losses stay exact whatever
 * the split, because each micro-batch's loss is scaled by its share of the batch's count.
 */
public final class TokenBudget {
  private TokenBudget() {}

  /**
   * The micro-batches of examples 0..n-1 (positions into the arrays), each listed longest
   * first; every example is in exactly one.
   *
   * @param prompt each example's prompt tokens (0 where the example is one sequence)
   * @param response each example's other tokens (response, completion, or the whole sequence)
   * @param rowsPerExample the padded rows an example takes
   * @param budget the most tokens of a micro-batch's padded rows, at least 1
   */
  public static List<int[]> split(int[] prompt, int[] response, int rowsPerExample, long budget) {
    if (prompt.length != response.length) throw new IllegalArgumentException("prompt and response lengths differ");
    if (budget < 1 || rowsPerExample < 1) throw new IllegalArgumentException("budget and rows must be positive");
    Integer[] order = IntStream.range(0, prompt.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.<Integer>comparingInt(i -> -(prompt[i] + response[i]))
        .thenComparingInt(i -> i));
    List<int[]> out = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    int maxPrompt = 0;
    int maxResponse = 0;
    for (int i : order) {
      int p = Math.max(maxPrompt, prompt[i]);
      int r = Math.max(maxResponse, response[i]);
      long cost = (long) (current.size() + 1) * rowsPerExample * (p + r);
      if (!current.isEmpty() && cost > budget) {
        out.add(current.stream().mapToInt(Integer::intValue).toArray());
        current.clear();
        p = prompt[i];
        r = response[i];
      }
      current.add(i);
      maxPrompt = p;
      maxResponse = r;
    }
    if (!current.isEmpty()) out.add(current.stream().mapToInt(Integer::intValue).toArray());
    return out;
  }

  /**
   * items cut into micro-batches: size of them in order when budget is 0, else by {@link #split}
   * over each item's tokens (one sequence of them on each of rowsPerItem rows).
   */
  public static <E> List<List<E>> microBatches(List<E> items, int size, long budget, ToIntFunction<E> tokens,
      int rowsPerItem) {
    List<int[]> parts;
    if (budget == 0) {
      parts = fixed(items.size(), size);
    } else {
      int[] t = new int[items.size()];
      for (int i = 0; i < t.length; i++) t[i] = tokens.applyAsInt(items.get(i));
      parts = split(new int[t.length], t, rowsPerItem, budget);
    }
    List<List<E>> out = new ArrayList<>(parts.size());
    for (int[] part : parts) {
      List<E> micro = new ArrayList<>(part.length);
      for (int i : part) micro.add(items.get(i));
      out.add(micro);
    }
    return out;
  }

  /** Fixed micro-batches of size examples in order (the last may be smaller): the budget's off state. */
  public static List<int[]> fixed(int n, int size) {
    List<int[]> out = new ArrayList<>();
    for (int from = 0; from < n; from += size) out.add(IntStream.range(from, Math.min(n, from + size)).toArray());
    return out;
  }
}
