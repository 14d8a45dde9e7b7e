package org.rlhf4j.ppo;

import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.PpoResults.Advantages;
import org.rlhf4j.engine.PpoResults.RewardStats;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.train.Distributed;

/**
 * PPO's feedback phase: the frozen reference gives log-probs; each token's reward is -kl_coef *
 * KL, the (optionally normalized) score is added on the last token; then returns and advantages
 * (ppo.adv_estimator). Owns the adaptive KL controller and the score's running moments. Every
 * decision is taken from all ranks' data: the score moments over the whole batch, a non-finite
 * skip when any rank has one.
 */
final class PpoFeedback {
  /**
   * A rollout's feedback, or why the iteration is skipped (skip non-null: a score, reward or
   * advantage is NaN or Inf); referenced is when the reference pass ended (System.nanoTime).
   */
  record Result(RewardStats rewards, Advantages advantages, long referenced, String skip) {
    static Result skipped(String why, long referenced) {
      return new Result(null, null, referenced, why);
    }
  }

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoOptions options;
  private final AlgoOptions algo;
  private final KlController kl;
  private final RunningMoments scoreMoments = new RunningMoments();
  private final Distributed dist = Distributed.current();

  PpoFeedback(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    this.options = config.ppoOptions();
    this.algo = config.algoOptions();
    var p = config.ppo();
    this.kl = p.adaptiveKl() ? new KlController.Adaptive(p.klCoef(), p.klTarget(), p.klHorizon())
        : new KlController.Fixed(p.klCoef());
  }

  /** Rows of the global batch: schedule.rollout_batch prompts, generation.num_samples each. */
  private int globalRows() {
    return config.schedule().rolloutBatch() * config.numSamples();
  }

  /** Reference log-probs, per-token rewards, returns and advantages of batch; the raw scores' metrics. */
  Result run(PpoSampling.Batch batch, Map<String, Double> metrics) {
    Rollout rollout = batch.rollout();
    boolean fullKl = options.klEstimator() == PpoOptions.KlEstimator.FULL;
    parts.scoreReference(rollout, fullKl, options.temperature());
    final long referenced = System.nanoTime();
    float[] batchScores = dist.gather(batch.scores().total(), batch.firstRow(), globalRows());  // in global order
    metrics.put("objective/scores_raw", mean(batchScores));
    batch.scores().terms().forEach((label, v) -> metrics.put("reward/" + label, mean(v)));
    if (!allFinite(batchScores)) return Result.skipped("a score is NaN or Inf", referenced);
    double shift = 0, scale = 1;
    if (config.reward().scoreNorm()) {
      scoreMoments.update(batchScores);
      shift = scoreMoments.mean();
      scale = scoreMoments.std();
    }
    RewardStats rs = rollout.rewards(options, algo, kl.value(), shift, scale);
    if (dist.any(rs.nonFinite())) return Result.skipped("a per-token reward is NaN or Inf", referenced);
    Advantages adv = rollout.advantages(options, algo);
    if (dist.any(adv.stats().nonFinite())) return Result.skipped("an advantage or return is NaN or Inf", referenced);
    return new Result(rs, adv, referenced, null);
  }

  /**
   * After learning: the adaptive KL controller sees the iteration's KL (over all ranks); returns
   * the coefficient the iteration used.
   */
  double adaptKl(RewardStats rs) {
    double used = kl.value();
    kl.update(dist.mean(rs.kl())[0], globalRows());
    return used;
  }

  /** The current KL coefficient. */
  double klCoef() {
    return kl.value();
  }

  RunningMoments scoreMoments() {
    return scoreMoments;
  }

  /** Continues with a checkpoint's KL coefficient and score moments. */
  void restore(PpoState st) {
    kl.restore(st.klCoef());
    scoreMoments.restore(st.scoreMean(), st.scoreVar(), st.scoreCount());
  }

  private static boolean allFinite(float[] xs) {
    for (float x : xs) if (!Float.isFinite(x)) return false;
    return true;
  }

  static double mean(float[] xs) {
    double s = 0;
    for (float x : xs) s += x;
    return xs.length == 0 ? 0 : s / xs.length;
  }
}
