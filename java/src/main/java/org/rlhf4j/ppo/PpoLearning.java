package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.rlhf4j.config.LrSchedule;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.PpoResults.Loss;
import org.rlhf4j.engine.PpoResults.StepResult;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Distributed;
import org.rlhf4j.train.NonFinitePolicy;
import org.rlhf4j.train.Seeds;
import org.rlhf4j.train.TokenBudget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PPO's learning phase: ppo_epochs passes over shuffled minibatches of the rollout, each an
 * optimizer step on pg_loss + vf_coef * vf_loss, the gradient accumulated over micro-batches of
 * ppo.micro_batch_size (or cut by ppo.max_tokens_per_micro_batch), each scaled so the
 * minibatch's loss is one mean (ppo.loss_agg) over all of it. Stops an iteration's epochs early when approx KL passes ppo.target_kl. Owns the
 * policy's and the critic's optimizers and counts optimizer steps, skipped ones included.
 *
 * <p>Data parallelism: one global shuffle per epoch; each rank learns on the rows of each
 * minibatch that it holds, gradients are averaged over ranks at each step, and the skip and
 * early-stop decisions are taken over all ranks.
 */
final class PpoLearning implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PpoLearning.class);

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoOptions options;
  private final AlgoOptions algo;
  private final LrSchedule lr;
  private final Optimizer policyOptimizer;
  private final Optimizer criticOptimizer;
  private final NonFinitePolicy nonFinite;
  private final Distributed dist = Distributed.current();
  private long optimizerSteps;
  private long optimizerNanos;
  private long skippedSteps;

  PpoLearning(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    this.options = config.ppoOptions();
    this.algo = config.algoOptions();
    this.lr = config.lrSchedule();
    this.nonFinite = new NonFinitePolicy(config.run().onNonfinite());
    var o = config.optim();
    var adamw = new Optimizer.AdamW(o.beta1(), o.beta2(), o.eps(), o.weightDecay(), o.maxGradNorm());
    this.policyOptimizer = Optimizer.create(parts.policy(), adamw);
    this.criticOptimizer = parts.critic() == null ? null : Optimizer.create(parts.critic(), adamw);
  }

  /**
   * The learning phase over this rank's rollout (rows [firstRow, firstRow + its rows) of the
   * global batch) of iteration it; returns the epochs run (fewer when approx KL passed
   * ppo.target_kl).
   */
  int learn(Rollout rollout, int firstRow, long it, LossAggregate losses) {
    var p = config.ppo();
    int m = config.schedule().rolloutBatch() * config.numSamples();
    long seed = config.run().seed();
    int[] lossTokens = lossTokens(rollout);
    int[][] rowTokens = rowTokens(rollout);
    for (int epoch = 0; epoch < p.ppoEpochs(); epoch++) {
      // One global shuffle; each rank learns on the rows of each minibatch that it holds.
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < m; i++) order.add(i);
      Collections.shuffle(order, new Random(Seeds.mix(seed, it, epoch)));
      for (int start = 0; start < m; start += p.minibatchSize()) {
        List<Integer> mine = new ArrayList<>();
        for (int g : order.subList(start, start + p.minibatchSize())) {
          if (g >= firstRow && g < firstRow + lossTokens.length) mine.add(g - firstRow);
        }
        double denominator = minibatchLossDenominator(rows(mine, 0, mine.size()), lossTokens);
        boolean finite = true;
        int from = 0;
        for (long[] idx : microBatches(mine, rowTokens)) {
          // Dropout, when the model has any: a stream per rank and micro-batch position.
          Engine.manualSeed(Seeds.mix(seed, optimizerSteps, start + from + (long) dist.rank() * m));
          from += idx.length;
          losses.addPadding(realTokens(idx, rowTokens), rollout.microBatchPositions(parts.policy(), idx));
          Loss s = rollout.accumulate(parts.policy(), parts.critic(), idx, options, algo,
              microLossScale(lossCount(idx, lossTokens), denominator));
          if (s.stats().nonFinite()) {
            finite = false;
            break;
          }
          losses.add(s);
        }
        if (dist.any(!finite)) {
          skipStep("the loss is NaN or Inf");
          continue;
        }
        optimizerStep();
      }
      double approxKl = losses.endEpoch(dist);
      if (p.targetKl() != null && approxKl > p.targetKl()) {
        LOG.info("iteration {}: approx KL {} passed ppo.target_kl {} after epoch {}; stopping its epochs early",
            it, String.format("%.4f", approxKl), p.targetKl(), epoch + 1);
        return epoch + 1;
      }
    }
    return p.ppoEpochs();
  }

  /**
   * The micro-batches of a minibatch's rows on this rank: ppo.micro_batch_size rows in order, or
   * with ppo.max_tokens_per_micro_batch, rows cut by their tokens ({@link TokenBudget}). The
   * count may differ between ranks: the gradients are averaged once per optimizer step.
   */
  private List<long[]> microBatches(List<Integer> mine, int[][] rowTokens) {
    var p = config.ppo();
    if (p.maxTokensPerMicroBatch() == 0) {
      List<long[]> out = new ArrayList<>();
      for (int from = 0; from < mine.size(); from += p.microBatchSize()) {
        out.add(rows(mine, from, Math.min(p.microBatchSize(), mine.size() - from)));
      }
      return out;
    }
    int[] prompt = new int[mine.size()];
    int[] response = new int[mine.size()];
    for (int i = 0; i < prompt.length; i++) {
      prompt[i] = rowTokens[0][mine.get(i)];
      response[i] = rowTokens[1][mine.get(i)];
    }
    List<long[]> out = new ArrayList<>();
    for (int[] part : TokenBudget.split(prompt, response, 1, p.maxTokensPerMicroBatch())) {
      long[] idx = new long[part.length];
      for (int i = 0; i < part.length; i++) idx[i] = mine.get(part[i]);
      out.add(idx);
    }
    return out;
  }

  /**
   * Each row's prompt tokens and response tokens ([2][rows]) as the native micro-batch crops
   * them: the query mask's and the response mask's ones (at least one response column).
   */
  private static int[][] rowTokens(Rollout rollout) {
    int b = rollout.batch();
    byte[] q = rollout.bytes(RolloutField.QUERY_MASK);
    byte[] r = rollout.bytes(RolloutField.RESPONSE_MASK);
    int pLen = rollout.queryLen();
    int rLen = rollout.responseLen();
    int[][] out = new int[2][b];
    for (int i = 0; i < b; i++) {
      for (int t = 0; t < pLen; t++) out[0][i] += q[i * pLen + t];
      for (int t = 0; t < rLen; t++) out[1][i] += r[i * rLen + t];
      out[1][i] = Math.max(1, out[1][i]);
    }
    return out;
  }

  /** The prompt and response tokens of these rows. */
  private static long realTokens(long[] rows, int[][] rowTokens) {
    long n = 0;
    for (long r : rows) n += rowTokens[0][(int) r] + rowTokens[1][(int) r];
    return n;
  }

  private static long[] rows(List<Integer> order, int from, int size) {
    return order.subList(from, from + size).stream().mapToLong(Integer::longValue).toArray();
  }

  /**
   * The denominator of a minibatch's loss (ppo.loss_agg): its loss tokens for token_mean, its
   * samples for the seq_mean modes, counted over every micro-batch of it on every rank.
   */
  private double minibatchLossDenominator(long[] mine, int[] lossTokens) {
    return dist.sum(lossCount(mine, lossTokens))[0];
  }

  /**
   * A micro-batch's loss scale. The native micro-batch loss is a mean over its own count
   * (tokens or samples), so it is weighted by its share of the minibatch's count: the
   * minibatch's loss is one mean over all of it, not a mean of micro-batch means. Times the
   * world size, because the optimizer averages (rather than sums) the ranks' gradients. In one
   * process with micro_batch_size == minibatch_size the scale is 1, as before.
   */
  private double microLossScale(double microCount, double minibatchCount) {
    return minibatchCount == 0 ? 0 : microCount * dist.worldSize() / minibatchCount;
  }

  /** What ppo.loss_agg averages over in these rows: loss tokens (token_mean) or samples. */
  private double lossCount(long[] rows, int[] lossTokens) {
    if (!algo.lossAgg().perToken()) return rows.length;
    double n = 0;
    for (long r : rows) n += lossTokens[(int) r];
    return n;
  }

  /**
   * Each sample's tokens in the loss, as feedback wrote LOSS_MASK: its response (its own turns in
   * a multi-turn episode), or none when truncated and ppo.mask_truncated.
   */
  private int[] lossTokens(Rollout rollout) {
    float[] mask = rollout.floats(RolloutField.LOSS_MASK);
    int width = rollout.responseLen();
    int[] out = new int[rollout.batch()];
    for (int i = 0; i < mask.length; i++) out[i / width] += mask[i] != 0 ? 1 : 0;
    return out;
  }

  private void optimizerStep() {
    double rate = lr.lr(optimizerSteps);
    long t0 = System.nanoTime();
    StepResult policyStep = policyOptimizer.step(rate);
    StepResult criticStep = criticOptimizer == null ? null : criticOptimizer.step(rate);
    optimizerNanos += System.nanoTime() - t0;
    optimizerSteps++;
    if (policyStep.skipped() || (criticStep != null && criticStep.skipped())) {
      nonFinite.skipped("optimizer step " + optimizerSteps + ": the gradients are NaN or Inf", "the step was skipped");
      skippedSteps++;
    }
  }

  private void skipStep(String why) {
    policyOptimizer.zeroGrad();
    if (criticOptimizer != null) criticOptimizer.zeroGrad();
    optimizerSteps++;
    skippedSteps++;
    nonFinite.skipped("optimizer step " + optimizerSteps + ": " + why, "the step was skipped");
  }

  /** The learning rate of the last optimizer step (the first's before any). */
  double lastLr() {
    return lr.lr(Math.max(0, optimizerSteps - 1));
  }

  long optimizerSteps() {
    return optimizerSteps;
  }

  long skippedSteps() {
    return skippedSteps;
  }

  /**
   * Seconds spent in optimizer steps since this object was made: clipping and AdamW for the
   * policy and a separate critic, with the gradients' average over ranks that a step begins with.
   */
  double optimizerSeconds() {
    return optimizerNanos / 1e9;
  }

  Optimizer policyOptimizer() {
    return policyOptimizer;
  }

  /** The critic's optimizer, null without a separate critic. */
  Optimizer criticOptimizer() {
    return criticOptimizer;
  }

  /** Continues a checkpoint's step counts (the optimizers' states are loaded separately). */
  void restore(long optimizerSteps, long skippedSteps) {
    this.optimizerSteps = optimizerSteps;
    this.skippedSteps = skippedSteps;
  }

  @Override
  public void close() {
    policyOptimizer.close();
    if (criticOptimizer != null) criticOptimizer.close();
  }
}
