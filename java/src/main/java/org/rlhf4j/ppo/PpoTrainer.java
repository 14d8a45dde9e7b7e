package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.LrSchedule;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RunSection.OnNonFinite;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.PpoResults.AdvantageStats;
import org.rlhf4j.engine.PpoResults.Advantages;
import org.rlhf4j.engine.PpoResults.Loss;
import org.rlhf4j.engine.PpoResults.RewardStats;
import org.rlhf4j.engine.PpoResults.StepResult;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Progress;
import org.rlhf4j.train.Distributed;
import org.rlhf4j.train.NonFiniteException;
import org.rlhf4j.train.Seeds;
import org.rlhf4j.train.TokenizerFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PPO for language models (Ziegler et al. 2019; Ouyang et al. 2022) and the critic-free
 * algorithms that share its phases (GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE++: the estimator and
 * the loss are switches of ppo.*): the training loop. One iteration has three phases:
 *
 * <ol>
 *   <li><b>Sampling.</b> The old policy generates generation.num_samples responses per prompt (a
 *       group), recording each token's log-prob and the critic's value in the same pass. With
 *       ppo.dynamic_sampling, groups whose scores are all equal are dropped and more prompts are
 *       drawn until the batch is full (at most ppo.max_resample_batches more rounds).
 *   <li><b>Feedback.</b> The frozen reference gives log-probs, the reward model (or a Java
 *       function) scores prompt + response; each token's reward is -kl_coef * KL, the score is
 *       added on the last token; then returns and advantages.
 *   <li><b>Learning.</b> ppo_epochs passes over shuffled minibatches of the rollout, each an
 *       optimizer step on pg_loss + vf_coef * vf_loss (gradients accumulated over micro-batches).
 * </ol>
 *
 * The tensor work runs natively; the rollout stays in native memory between the phases. Every
 * random draw derives from (run.seed, iteration, epoch) and each sample's from (run.seed,
 * iteration, its index in the global batch), so resuming from a checkpoint continues bit for
 * bit as a straight run would on the same machine.
 *
 * <p>Data parallelism ({@link Distributed#current()}): schedule.rollout_batch is global; each
 * rank samples and learns on its contiguous share of the batch's prompts (a prompt's group stays
 * on one rank), gradients are averaged over ranks at each optimizer step, and every decision
 * (score moments, adaptive KL, early stop, dynamic sampling's stop, a non-finite skip) is taken
 * from all ranks' data. Rank 0 alone writes files.
 *
 * <p>Not thread-safe: one thread calls {@link #step()} or {@link #run()}; listeners are called
 * on that thread. {@link #close()} frees the models, optimizers and rollouts.
 */
public final class PpoTrainer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PpoTrainer.class);
  private static final int SAMPLES_KEPT = 4;

  /** One finished iteration: its metrics (TRL's names) and a few decoded samples. */
  public record Iteration(long iteration, Map<String, Double> metrics, List<Sample> samples) {}

  /** A prompt, the policy's response and its score. */
  public record Sample(String prompt, String response, double score) {}

  /** Called after every iteration (with eval metrics merged in when it evaluated). */
  @FunctionalInterface
  public interface Listener {
    void onIteration(Iteration iteration);
  }

  /**
   * Sees each rollout once its feedback is complete (rewards, returns and advantages computed)
   * and before learning starts, e.g. to dump it. Must not change it.
   */
  @FunctionalInterface
  public interface RolloutObserver {
    void onRollout(long iteration, List<Prompt> prompts, Rollout rollout);

    /** As above, with each weighted reward function's value per sample (empty without reward.functions). */
    default void onRollout(long iteration, List<Prompt> prompts, Rollout rollout, Map<String, float[]> rewardTerms) {
      onRollout(iteration, prompts, rollout);
    }
  }

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoOptions options;
  private final AlgoOptions algo;
  private final int numSamples;
  private final LrSchedule lr;
  private final GenerateOptions generation;
  private final Optimizer policyOptimizer;
  private final Optimizer criticOptimizer;
  private final KlController kl;
  private final RunningMoments scoreMoments = new RunningMoments();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final List<RolloutObserver> rolloutObservers = new CopyOnWriteArrayList<>();
  private final Distributed dist = Distributed.current();
  private long iteration;
  private long optimizerSteps;
  private long skippedSteps;
  private long skippedIterations;
  private double elapsedSeconds;
  private volatile boolean stopRequested;

  /**
   * A trainer over parts (which it now owns), starting at iteration 0, or continuing from the
   * newest complete checkpoint in run.out when run.resume is set and there is one.
   */
  public PpoTrainer(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    this.options = config.ppoOptions();
    this.algo = config.algoOptions();
    this.numSamples = config.numSamples();
    if (algo.estimator().usesCritic() && parts.critic() == null && !parts.policy().config().valueHead()) {
      throw new IllegalArgumentException("ppo: estimator gae needs a critic: the policy has no value head and there "
          + "is no separate critic");
    }
    this.lr = config.lrSchedule();
    this.generation = generationOptions(config, parts);
    var o = config.optim();
    var adamw = new Optimizer.AdamW(o.beta1(), o.beta2(), o.eps(), o.weightDecay(), o.maxGradNorm());
    this.policyOptimizer = Optimizer.create(parts.policy(), adamw);
    this.criticOptimizer = parts.critic() == null ? null : Optimizer.create(parts.critic(), adamw);
    var p = config.ppo();
    this.kl = p.adaptiveKl() ? new KlController.Adaptive(p.klCoef(), p.klTarget(), p.klHorizon())
        : new KlController.Fixed(p.klCoef());
    if (config.schedule().rolloutBatch() < dist.worldSize()) {
      throw new IllegalArgumentException("schedule.rollout_batch (" + config.schedule().rolloutBatch()
          + ") is global and must be at least the number of ranks (" + dist.worldSize() + ")");
    }
    if (config.run().resume()) checkpoints().latest().ifPresent(this::restore);
    // Every rank starts from rank 0's weights (also after a resume).
    dist.broadcastWeights(parts.policy());
    if (parts.critic() != null) dist.broadcastWeights(parts.critic());
  }

  private static GenerateOptions generationOptions(PpoRunConfig config, PpoParts parts) {
    var g = config.generation();
    long context = parts.policy().config().nPositions();
    if (config.data().maxPromptTokens() + (long) g.maxNewTokens() > context) {
      throw new IllegalArgumentException("data.max_prompt_tokens (" + config.data().maxPromptTokens()
          + ") + generation.max_new_tokens (" + g.maxNewTokens() + ") exceeds the policy's context window ("
          + context + " tokens)");
    }
    var tok = parts.tokenizer();
    int stop = -1;
    if (g.stopToken() != null) {
      int[] ids = tok.encode(g.stopToken());
      if (ids.length != 1) {
        throw new IllegalArgumentException("generation.stop_token '" + g.stopToken() + "' is " + ids.length
            + " tokens for this tokenizer; it must be exactly one");
      }
      stop = ids[0];
    }
    int pad = tok.padId() >= 0 ? tok.padId() : Math.max(tok.eosId(), 0);
    boolean sharedCritic = parts.critic() == null && parts.policy().config().valueHead();
    return new GenerateOptions(g.maxNewTokens(), g.temperature(), g.topK(), g.topP(), tok.eosId(), stop, pad,
        0, sharedCritic);
  }

  public void addListener(Listener listener) {
    listeners.add(listener);
  }

  public void addRolloutObserver(RolloutObserver observer) {
    rolloutObservers.add(observer);
  }

  public PpoRunConfig config() {
    return config;
  }

  /** Iterations completed so far (including those before a resume). */
  public long iteration() {
    return iteration;
  }

  /** The current KL coefficient. */
  public double klCoef() {
    return kl.value();
  }

  public PpoParts parts() {
    return parts;
  }

  /**
   * Asks {@link #run()} to stop after the iteration in progress (it then checkpoints as at the
   * end of a run); callable from any thread, e.g. a job service cancelling the run.
   */
  public void requestStop() {
    stopRequested = true;
  }

  /** Runs one iteration and returns its metrics. */
  public Iteration step() {
    final long it = iteration + 1;
    final long start = System.nanoTime();
    Map<String, Double> metrics = new LinkedHashMap<>();
    final double allreduceBefore = dist.allreduceSeconds();

    // 1. Sampling: groups of responses, old_logprobs and old_values from the old policy, and their scores.
    Batch batch = sample(it, metrics);
    try (Rollout rollout = batch.rollout()) {
      List<Prompt> prompts = batch.prompts();
      final int rows = rollout.batch();
      if (parts.critic() != null) rollout.scorePolicy(parts.critic(), 1.0, Rollout.VALUES);
      final long sampled = System.nanoTime();

      // 2. Feedback: reference log-probs, per-token rewards, returns and advantages.
      boolean fullKl = options.klEstimator() == PpoOptions.KlEstimator.FULL;
      parts.scoreReference(rollout, fullKl, options.temperature());
      final long referenced = System.nanoTime();
      float[] scores = batch.scores().total();
      final int globalRows = config.schedule().rolloutBatch() * numSamples;
      float[] batchScores = dist.gather(scores, batch.firstRow(), globalRows);  // the whole batch's, in global order
      metrics.put("objective/scores_raw", mean(batchScores));
      batch.scores().terms().forEach((label, v) -> metrics.put("reward/" + label, mean(v)));
      if (!allFinite(batchScores)) return skipIteration(it, "a score is NaN or Inf", metrics, start);
      double shift = 0, scale = 1;
      if (config.reward().scoreNorm()) {
        scoreMoments.update(batchScores);
        shift = scoreMoments.mean();
        scale = scoreMoments.std();
      }
      RewardStats rs = rollout.rewards(options, algo, kl.value(), shift, scale);
      if (dist.any(rs.nonFinite())) return skipIteration(it, "a per-token reward is NaN or Inf", metrics, start);
      Advantages adv = rollout.advantages(options, algo);
      AdvantageStats as = adv.stats();
      if (dist.any(as.nonFinite())) return skipIteration(it, "an advantage or return is NaN or Inf", metrics, start);
      if (dist.isMain()) for (RolloutObserver o : rolloutObservers) o.onRollout(it, prompts, rollout, batch.scores().terms());

      // 3. Learning: epochs of shuffled minibatches, one optimizer step each.
      LossAggregate losses = new LossAggregate();
      int epochsDone = learn(rollout, batch.firstRow(), it, losses);
      final long learned = System.nanoTime();

      double klBefore = kl.value();
      kl.update(dist.mean(rs.kl())[0], globalRows);
      iteration = it;
      elapsedSeconds += (learned - start) / 1e9;

      metrics.put("objective/kl", rs.kl());
      metrics.put("objective/kl_coef", klBefore);
      metrics.put("objective/entropy", rs.entropy());
      metrics.put("objective/scores", rs.scores());
      metrics.put("objective/non_score_reward", rs.nonScoreReward());
      metrics.put("objective/rlhf_reward", rs.rlhfReward());
      metrics.putAll(losses.metrics(dist));
      metrics.put("val/var_explained", as.varExplained());
      metrics.put("returns/mean", as.returnsMean());
      metrics.put("returns/var", as.returnsVar());
      metrics.put("advantages/mean", as.advantagesMean());
      if (adv.groups().groups() > 0) {
        metrics.put("groups/zero_variance", (double) adv.groups().zeroVarianceGroups());
        metrics.put("groups/reward_std", adv.groups().seqRewardStd());
      }
      metrics.put("response_length/mean", rs.responseLength());
      metrics.put("response_length/eos_rate", rs.eosRate());
      metrics.put("lr", lr.lr(Math.max(0, optimizerSteps - 1)));
      metrics.put("ppo/epochs", (double) epochsDone);
      metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
      metrics.put("nonfinite/skipped_iterations", (double) skippedIterations);
      metrics.put("time/rollout", (sampled - start) / 1e9);
      metrics.put("time/ref", (referenced - sampled) / 1e9);
      metrics.put("time/reward", batch.scoringSeconds());
      metrics.put("time/learn", (learned - referenced) / 1e9);
      metrics.put("tokens_per_s", rs.responseLength() * rows / ((learned - start) / 1e9));
      if (dist.active()) metrics.put("time/allreduce", dist.allreduceSeconds() - allreduceBefore);
      return new Iteration(it, meanOverRanks(metrics), samples(prompts, batch.responses(), scores));
    }
  }

  /**
   * One iteration's samples on this rank: the rollout (rows in groups of numSamples), each row's
   * prompt, response and scores; firstRow is the global index of its first row.
   */
  private record Batch(Rollout rollout, List<Prompt> prompts, List<String> responses, RewardScores.Scores scores,
      double scoringSeconds, int firstRow) {}

  /** One sampling round on this rank: its share of schedule.rollout_batch prompts, numSamples responses each, scored. */
  private record Round(Rollout rollout, List<Prompt> prompts, List<String> responses, RewardScores.Scores scores) {}

  /**
   * Sampling and scoring. Without dynamic sampling, one round. With it (DAPO), groups whose
   * scores are all equal are dropped and rounds repeat until schedule.rollout_batch groups are
   * kept or ppo.max_resample_batches extra rounds are spent; a batch still short is topped up
   * with dropped groups (their advantage is 0), so every iteration learns from the same size.
   */
  private Batch sample(long it, Map<String, Double> metrics) {
    final int share = dist.shareEnd(config.schedule().rolloutBatch()) - dist.shareStart(config.schedule().rolloutBatch());
    final int firstRow = dist.shareStart(config.schedule().rolloutBatch()) * numSamples;
    long scoring = 0;
    Timed first = round(it, 0);
    scoring += first.scoringNanos();
    Round only = first.round();
    if (!config.ppo().dynamicSampling()) {
      return new Batch(only.rollout(), only.prompts(), only.responses(), only.scores(), scoring / 1e9, firstRow);
    }
    List<Round> rounds = new ArrayList<>(List.of(only));
    List<int[]> kept = new ArrayList<>(), dropped = new ArrayList<>();  // {round, group}
    try {
      for (int r = 0; ; r++) {
        Round round = rounds.get(r);
        for (int g = 0; g < share; g++) (constantGroup(round.scores().total(), g) ? dropped : kept).add(new int[] {r, g});
        if (dynamicSamplingFull(kept.size() >= share) || r == config.ppo().maxResampleBatches()) break;
        Timed next = round(it, r + 1);
        scoring += next.scoringNanos();
        rounds.add(next.round());
      }
      List<int[]> chosen = new ArrayList<>(kept.subList(0, Math.min(share, kept.size())));
      int filled = share - chosen.size();
      chosen.addAll(dropped.subList(0, filled));
      double[] counts = dist.sum(dropped.size(), filled);
      metrics.put("dynamic/dropped_groups", counts[0] / dist.worldSize());  // sums: metrics are averaged over ranks
      metrics.put("dynamic/filled_groups", counts[1] / dist.worldSize());
      metrics.put("dynamic/sampling_rounds", (double) rounds.size());
      return gather(rounds, chosen, scoring / 1e9, firstRow);
    } finally {
      for (Round r : rounds) r.rollout().close();
    }
  }

  /**
   * Dynamic sampling's stopping decision: every rank has kept groups for its whole share. Taken
   * over all ranks, so every rank stops after the same round and their prompt cursors stay equal.
   */
  private boolean dynamicSamplingFull(boolean thisRankFull) {
    return !dist.any(!thisRankFull);
  }

  private record Timed(Round round, long scoringNanos) {}

  /**
   * Round r of iteration it: this rank's share of the next rollout_batch prompts, each numSamples
   * times (rows p*n .. p*n+n-1). Each sample's randomness comes from (seed, iteration, round, its
   * index in the global batch), whatever the rank or world size.
   */
  private Timed round(long it, int r) {
    int m = config.schedule().rolloutBatch();
    int lo = dist.shareStart(m);
    List<Prompt> prompts = parts.prompts().next(m).subList(lo, dist.shareEnd(m));
    List<Prompt> rows = new ArrayList<>(prompts.size() * numSamples);
    for (Prompt p : prompts) for (int k = 0; k < numSamples; k++) rows.add(p);
    long[] seeds = new long[rows.size()];
    for (int i = 0; i < seeds.length; i++) {
      long global = (long) lo * numSamples + i;
      seeds[i] = r == 0 ? Seeds.mix(seed(), it, global) : Seeds.mix(seed(), it, global, r);
    }
    Rollout rollout = parts.policy().generate(tokens(rows), generation, seeds);
    try {
      float[] groups = new float[rows.size()];
      for (int i = 0; i < groups.length; i++) groups[i] = lo + i / numSamples;
      rollout.write(RolloutField.GROUP_ID, groups);
      long t0 = System.nanoTime();
      List<String> responses = decodeResponses(rollout);
      RewardScores.Scores scores = score(rollout, rows, responses);
      return new Timed(new Round(rollout, rows, responses, scores), System.nanoTime() - t0);
    } catch (RuntimeException e) {
      rollout.close();
      throw e;
    }
  }

  private boolean constantGroup(float[] scores, int g) {
    for (int k = 1; k < numSamples; k++) {
      if (Float.compare(scores[g * numSamples + k], scores[g * numSamples]) != 0) return false;
    }
    return true;
  }

  /** The chosen groups ({round, group}) of rounds as one batch, group ids renumbered 0.. in order. */
  private Batch gather(List<Round> rounds, List<int[]> chosen, double scoringSeconds, int firstRow) {
    int rows = chosen.size() * numSamples;
    int[] part = new int[rows], row = new int[rows];
    float[] groups = new float[rows], total = new float[rows];
    List<Prompt> prompts = new ArrayList<>(rows);
    List<String> responses = new ArrayList<>(rows);
    Map<String, float[]> terms = new LinkedHashMap<>();
    rounds.get(0).scores().terms().keySet().forEach(l -> terms.put(l, new float[rows]));
    for (int c = 0; c < chosen.size(); c++) {
      Round round = rounds.get(chosen.get(c)[0]);
      for (int k = 0; k < numSamples; k++) {
        int i = c * numSamples + k, src = chosen.get(c)[1] * numSamples + k;
        part[i] = chosen.get(c)[0];
        row[i] = src;
        groups[i] = c;
        total[i] = round.scores().total()[src];
        prompts.add(round.prompts().get(src));
        responses.add(round.responses().get(src));
        for (var e : terms.entrySet()) e.getValue()[i] = round.scores().terms().get(e.getKey())[src];
      }
    }
    Rollout merged = Rollout.gather(rounds.stream().map(Round::rollout).toList(), part, row);
    merged.write(RolloutField.GROUP_ID, groups);
    return new Batch(merged, prompts, responses, new RewardScores.Scores(total, terms), scoringSeconds, firstRow);
  }

  /**
   * The learning phase over this rank's rollout (rows [firstRow, firstRow + its rows) of the
   * global batch); returns the epochs run (fewer when approx KL passed ppo.target_kl).
   */
  private int learn(Rollout rollout, int firstRow, long it, LossAggregate losses) {
    var p = config.ppo();
    int m = config.schedule().rolloutBatch() * numSamples;
    int[] lossTokens = lossTokens(rollout);
    for (int epoch = 0; epoch < p.ppoEpochs(); epoch++) {
      // One global shuffle; each rank learns on the rows of each minibatch that it holds.
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < m; i++) order.add(i);
      Collections.shuffle(order, new Random(Seeds.mix(seed(), it, epoch)));
      for (int start = 0; start < m; start += p.minibatchSize()) {
        List<Integer> mine = new ArrayList<>();
        for (int g : order.subList(start, start + p.minibatchSize())) {
          if (g >= firstRow && g < firstRow + lossTokens.length) mine.add(g - firstRow);
        }
        double denominator = minibatchLossDenominator(rows(mine, 0, mine.size()), lossTokens);
        boolean finite = true;
        for (int from = 0; from < mine.size(); from += p.microBatchSize()) {
          long[] idx = rows(mine, from, Math.min(p.microBatchSize(), mine.size() - from));
          // Dropout, when the model has any: a stream per rank and micro-batch position.
          Engine.manualSeed(Seeds.mix(seed(), optimizerSteps, start + from + (long) dist.rank() * m));
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

  /** Each sample's tokens in the loss: its response, or none when truncated and ppo.mask_truncated. */
  private int[] lossTokens(Rollout rollout) {
    int[] lengths = rollout.ints(RolloutField.RESPONSE_LENGTH);
    byte[] ended = rollout.bytes(RolloutField.ENDED);
    int[] out = new int[lengths.length];
    for (int i = 0; i < out.length; i++) out[i] = algo.maskTruncated() && ended[i] == 0 ? 0 : lengths[i];
    return out;
  }

  /** Every metric as the mean over ranks (counts and flags are the same on every rank). */
  private Map<String, Double> meanOverRanks(Map<String, Double> metrics) {
    if (!dist.active()) return metrics;
    List<String> keys = new ArrayList<>(metrics.keySet());
    double[] values = new double[keys.size()];
    for (int i = 0; i < values.length; i++) values[i] = metrics.get(keys.get(i));
    double[] mean = dist.mean(values);
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < mean.length; i++) out.put(keys.get(i), mean[i]);
    return out;
  }

  private void optimizerStep() {
    double rate = lr.lr(optimizerSteps);
    StepResult policyStep = policyOptimizer.step(rate);
    StepResult criticStep = criticOptimizer == null ? null : criticOptimizer.step(rate);
    optimizerSteps++;
    if (policyStep.skipped() || (criticStep != null && criticStep.skipped())) {
      noteNonFinite("optimizer step " + optimizerSteps + ": the gradients are NaN or Inf; the step was skipped");
      skippedSteps++;
    }
  }

  private void skipStep(String why) {
    policyOptimizer.zeroGrad();
    if (criticOptimizer != null) criticOptimizer.zeroGrad();
    optimizerSteps++;
    skippedSteps++;
    noteNonFinite("optimizer step " + optimizerSteps + ": " + why + "; the step was skipped");
  }

  private Iteration skipIteration(long it, String why, Map<String, Double> metrics, long start) {
    noteNonFinite("iteration " + it + ": " + why + "; the iteration was skipped");
    skippedIterations++;
    iteration = it;
    elapsedSeconds += (System.nanoTime() - start) / 1e9;
    metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
    metrics.put("nonfinite/skipped_iterations", (double) skippedIterations);
    return new Iteration(it, meanOverRanks(metrics), List.of());
  }

  private void noteNonFinite(String what) {
    if (config.run().onNonfinite() == OnNonFinite.STOP) {
      throw new NonFiniteException(what.replace("; the step was skipped", "").replace(
          "; the iteration was skipped", "") + " (run.on_nonfinite is stop)");
    }
    LOG.warn(what);
  }

  private long seed() {
    return config.run().seed();
  }

  private static List<int[]> tokens(List<Prompt> prompts) {
    List<int[]> out = new ArrayList<>(prompts.size());
    for (Prompt p : prompts) out.add(p.tokens());
    return out;
  }

  private List<String> decodeResponses(Rollout rollout) {
    List<String> out = new ArrayList<>();
    for (int[] r : rollout.responses()) out.add(parts.tokenizer().decode(r, true));
    return out;
  }

  private RewardScores.Scores score(Rollout rollout, List<Prompt> prompts, List<String> responses) {
    return RewardScores.scoreTerms(rollout, parts.rewardModel(), parts.rewardFunction(),
        prompts.stream().map(Prompt::text).toList(), responses, prompts.stream().map(Prompt::fields).toList());
  }

  private static List<Sample> samples(List<Prompt> prompts, List<String> responses, float[] scores) {
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < Math.min(SAMPLES_KEPT, prompts.size()); i++) {
      out.add(new Sample(prompts.get(i).text(), responses.get(i), scores[i]));
    }
    return out;
  }

  private static boolean allFinite(float[] xs) {
    for (float x : xs) if (!Float.isFinite(x)) return false;
    return true;
  }

  private static double mean(float[] xs) {
    double s = 0;
    for (float x : xs) s += x;
    return xs.length == 0 ? 0 : s / xs.length;
  }

  // ---- Evaluation --------------------------------------------------------------------------

  /** A held-out sample: the response, its score and its KL to the reference (summed k1). */
  public record EvalSample(String prompt, String response, int[] responseTokens, double score, double kl) {}

  /** Held-out evaluation: per-sample results and their means under eval/* names. */
  public record EvalResult(List<EvalSample> samples, Map<String, Double> metrics) {}

  /**
   * Generates for prompts with the run's sampling settings and a fixed seed (so evaluations are
   * comparable across iterations), scores them and measures their KL to the reference.
   */
  public EvalResult evaluate(List<Prompt> prompts) {
    List<EvalSample> out = new ArrayList<>();
    int batch = config.schedule().rolloutBatch();
    for (int from = 0; from < prompts.size(); from += batch) {
      List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + batch));
      try (Rollout r = parts.policy().generate(tokens(chunk), generation.withSeed(Seeds.mix(seed(), -1, from))
          .withValues(false))) {
        parts.scoreReference(r, false, options.temperature());
        List<String> responses = decodeResponses(r);
        float[] scores = score(r, chunk, responses).total();
        double[] old = r.sumOverResponse(RolloutField.OLD_LOGPROBS), ref = r.sumOverResponse(RolloutField.REF_LOGPROBS);
        List<int[]> tokens = r.responses();
        for (int i = 0; i < chunk.size(); i++) {
          out.add(new EvalSample(chunk.get(i).text(), responses.get(i), tokens.get(i), scores[i], old[i] - ref[i]));
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/scores", out.stream().mapToDouble(EvalSample::score).average().orElse(0));
    m.put("eval/kl", out.stream().mapToDouble(EvalSample::kl).average().orElse(0));
    m.put("eval/response_length", out.stream().mapToDouble(s -> s.responseTokens().length).average().orElse(0));
    return new EvalResult(out, m);
  }

  /** The first schedule.eval_prompts held-out prompts. */
  public List<Prompt> evalPrompts() {
    List<Prompt> eval = parts.prompts().eval();
    return eval.subList(0, Math.min(eval.size(), config.schedule().evalPrompts()));
  }

  // ---- The whole run ------------------------------------------------------------------------

  /**
   * Runs iterations until schedule.iterations (or the time budget), writing metrics.jsonl,
   * evaluating every eval_every iterations and checkpointing every checkpoint_every and at the
   * end, or after the iteration in progress when {@link #requestStop()} is called. Returns the
   * last iteration's record. In a data-parallel job only rank 0 writes.
   */
  public Iteration run() {
    var s = config.schedule();
    Path out = config.run().out();
    try {
      if (dist.isMain()) Files.createDirectories(out);
      Path metricsFile = out.resolve(MetricsLog.FILE_NAME);
      long budgetStart = System.nanoTime();
      Iteration last = null;
      try (MetricsLog log = !dist.isMain() ? null
              : iteration == 0 ? MetricsLog.create(metricsFile) : MetricsLog.resume(metricsFile, iteration);
          Progress progress = Progress.start("ppo", iteration, s.iterations(),
              dist.isMain() ? Progress.Mode.fromSystemProperty() : Progress.Mode.OFF)) {
        while (iteration < s.iterations() && !dist.any(stopRequested)) {
          // The budget is rank 0's clock, so every rank stops after the same iteration.
          if (s.timeBudget() != null
              && dist.any(dist.isMain() && System.nanoTime() - budgetStart > s.timeBudget().toNanos())) {
            LOG.info("time budget {} spent after iteration {}; stopping", s.timeBudget(), iteration);
            break;
          }
          Iteration it = step();
          boolean lastIteration = it.iteration() == s.iterations();
          if (s.evalPrompts() > 0 && (it.iteration() % s.evalEvery() == 0 || lastIteration)) {
            it.metrics().putAll(evaluate(evalPrompts()).metrics());
          }
          if (log != null) log.append(it.iteration(), it.metrics());
          if (it.iteration() % s.checkpointEvery() == 0) saveCheckpoint();
          for (Listener l : listeners) l.onIteration(it);
          progress.stepTo(it.iteration());
          progress.metrics(progressMetrics(it.metrics()));
          last = it;
        }
      }
      // Rank 0 reads the run directory; every rank takes its decision (saving is a collective).
      boolean finalSave = iteration % s.checkpointEvery() != 0 || (dist.isMain() && checkpoints().latest().isEmpty());
      if (dist.any(finalSave)) saveCheckpoint();
      return last;
    } catch (IOException e) {
      throw new UncheckedIOException("writing to " + out + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, Double> progressMetrics(Map<String, Double> m) {
    Map<String, Double> shown = new LinkedHashMap<>();
    for (String k : new String[] {"objective/scores", "objective/kl", "tokens_per_s"}) {
      if (m.containsKey(k)) shown.put(k.substring(k.indexOf('/') + 1), m.get(k));
    }
    return shown;
  }

  // ---- Checkpoints --------------------------------------------------------------------------

  private RunCheckpoints checkpoints() {
    int keep = config.schedule().keepCheckpoints();
    return new RunCheckpoints(config.run().out(), keep == 0 ? Integer.MAX_VALUE : keep);
  }

  /**
   * Writes a checkpoint of the current iteration into run.out/checkpoints; returns its path. In a
   * data-parallel job every rank calls it: the ranks first check that their weights are still
   * bitwise equal, then rank 0 alone writes.
   */
  public Path saveCheckpoint() {
    dist.requireSameWeights("policy", parts.policy());
    if (parts.critic() != null) dist.requireSameWeights("critic", parts.critic());
    if (!dist.isMain()) return checkpoints().pathFor(iteration);
    CheckpointWriter w = new CheckpointWriter()
        .model(parts.policy(), parts.policyConfig().withModel(parts.policy().config()))
        .optimizer("policy.", policyOptimizer)
        .trainerState(new ObjectMapper().valueToTree(state()));
    if (parts.critic() != null) {
      w.subModel("critic", parts.critic(), parts.policyConfig().withModel(parts.critic().config()));
      w.optimizer("critic.", criticOptimizer);
    }
    TokenizerFiles.copyInto(w, parts.tokenizerDir());
    Path saved = checkpoints().save(iteration, w);
    LOG.info("checkpoint {}", saved);
    return saved;
  }

  /** The trainer state a checkpoint records. */
  public PpoState state() {
    return new PpoState(iteration, optimizerSteps, kl.value(), scoreMoments.mean(), scoreMoments.var(),
        scoreMoments.count(), parts.prompts().cursor(), skippedSteps, skippedIterations, seed(), elapsedSeconds);
  }

  private void restore(Path dir) {
    Checkpoint c = Checkpoint.open(dir);
    JsonNode json = c.trainerState().orElseThrow(() -> new IllegalStateException(dir + ": no trainer_state.json"));
    PpoState st;
    try {
      st = new ObjectMapper().treeToValue(json, PpoState.class);
    } catch (IOException e) {
      throw new IllegalStateException(dir + "/trainer_state.json: " + e.getMessage(), e);
    }
    if (st.seed() != seed()) {
      throw new IllegalArgumentException("run.seed is " + seed() + " but the checkpoint " + dir
          + " was made with seed " + st.seed() + ": resume with the same seed");
    }
    c.loadWeights(parts.policy(), LoadOptions.strict());
    c.loadOptimizer(policyOptimizer, "policy.");
    if (parts.critic() != null) {
      c.subModel("critic").loadWeights(parts.critic(), LoadOptions.strict());
      c.loadOptimizer(criticOptimizer, "critic.");
    }
    parts.prompts().restore(st.promptCursor());
    kl.restore(st.klCoef());
    scoreMoments.restore(st.scoreMean(), st.scoreVar(), st.scoreCount());
    iteration = st.iteration();
    optimizerSteps = st.optimizerSteps();
    skippedSteps = st.skippedSteps();
    skippedIterations = st.skippedIterations();
    elapsedSeconds = st.elapsedSeconds();
    LOG.info("resumed from {} (iteration {})", dir, iteration);
  }

  @Override
  public void close() {
    policyOptimizer.close();
    if (criticOptimizer != null) criticOptimizer.close();
    parts.close();
  }
}
