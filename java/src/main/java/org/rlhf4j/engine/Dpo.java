package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The native DPO calls: summed completion log-probs (the reference's pass) and the family's
 * loss over a batch of pairs, both sides in one forward pass.
 */
public final class Dpo {
  private Dpo() {}

  /**
   * Per row: log-probs summed over its completion tokens, their count, and the sum over them of
   * the mean logit over the vocabulary.
   */
  public record SequenceLogps(double[] logps, long[] tokens, double[] logitSums) {}

  /**
   * A micro-batch's loss (a mean over its pairs) and the sums over its pairs that make TRL's
   * metrics (see r4j_dpo_stats); sums add up exactly over micro-batches and ranks.
   */
  public record Stats(double loss, double chosenRewards, double rejectedRewards, double accuracies, double margins,
      double logpsChosen, double logpsRejected, double logitsChosen, double logitsRejected, long tokensChosen,
      long tokensRejected, long numTokens, double nll, long pairs) {

    static Stats read(MemorySegment s) {
      Struct l = Layouts.DPO_STATS;
      return new Stats(l.getDouble(s, "loss"), l.getDouble(s, "chosen_rewards"), l.getDouble(s, "rejected_rewards"),
          l.getDouble(s, "accuracies"), l.getDouble(s, "margins"), l.getDouble(s, "logps_chosen"),
          l.getDouble(s, "logps_rejected"), l.getDouble(s, "logits_chosen"), l.getDouble(s, "logits_rejected"),
          l.getLong(s, "tokens_chosen"), l.getLong(s, "tokens_rejected"), l.getLong(s, "num_tokens"),
          l.getDouble(s, "nll"), l.getLong(s, "pairs"));
    }
  }

  /** The loss's statistics and the policy's summed log-probs of the rows (chosen first). */
  public record Result(Stats stats, double[] logps) {}

  /** Without gradient: rows of batch scored where lossMask is 1 (a LoRA reference: adapters off first). */
  public static SequenceLogps sequenceLogps(Model model, TokenBatch batch, byte[] lossMask) {
    checkMask(batch, lossMask);
    int rows = batch.batch();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment logps = arena.allocate(ValueLayout.JAVA_DOUBLE, rows);
      MemorySegment tokens = arena.allocate(ValueLayout.JAVA_LONG, rows);
      MemorySegment logits = arena.allocate(ValueLayout.JAVA_DOUBLE, rows);
      NativeLibrary.get().sequenceLogps(model.pointer(), Model.tokens(arena, batch), Model.mask(arena, batch),
          arena.allocateFrom(ValueLayout.JAVA_BYTE, lossMask), rows, batch.seqLen(), logps, tokens, logits, rows);
      return new SequenceLogps(logps.toArray(ValueLayout.JAVA_DOUBLE), tokens.toArray(ValueLayout.JAVA_LONG),
          logits.toArray(ValueLayout.JAVA_DOUBLE));
    }
  }

  /**
   * The loss of batch's pairs: its first half of rows are the chosen sequences, the second half
   * the rejected ones in the same order; refLogps (same order) is null when no loss needs a
   * reference. With backward, accumulates the gradient of scale * loss.
   */
  public static Result loss(Model model, TokenBatch batch, byte[] lossMask, double[] refLogps, DpoOptions options,
      double scale, boolean backward) {
    checkMask(batch, lossMask);
    int rows = batch.batch();
    if (rows % 2 != 0) throw new IllegalArgumentException("a DPO batch has chosen then rejected rows; got " + rows);
    if (refLogps != null && refLogps.length != rows) {
      throw new IllegalArgumentException("refLogps has " + refLogps.length + " entries for " + rows + " rows");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.DPO_OPTIONS.layout());
      options.write(o);
      MemorySegment stats = arena.allocate(Layouts.DPO_STATS.layout());
      MemorySegment logps = arena.allocate(ValueLayout.JAVA_DOUBLE, rows);
      MemorySegment ref = refLogps == null ? MemorySegment.NULL : arena.allocateFrom(ValueLayout.JAVA_DOUBLE, refLogps);
      NativeLibrary.get().dpoLoss(model.pointer(), Model.tokens(arena, batch), Model.mask(arena, batch),
          arena.allocateFrom(ValueLayout.JAVA_BYTE, lossMask), rows / 2, batch.seqLen(), ref, o, scale,
          backward ? 1 : 0, stats, logps, rows);
      return new Result(Stats.read(stats), logps.toArray(ValueLayout.JAVA_DOUBLE));
    }
  }

  private static void checkMask(TokenBatch batch, byte[] lossMask) {
    if (lossMask.length != batch.tokens().length) {
      throw new IllegalArgumentException("lossMask has " + lossMask.length + " entries, the batch "
          + batch.tokens().length);
    }
  }
}
