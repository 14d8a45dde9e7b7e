package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.PpoResults.AdvantageStats;
import org.rlhf4j.engine.PpoResults.Advantages;
import org.rlhf4j.engine.PpoResults.RewardStats;
import org.rlhf4j.train.Distributed;

/**
 * One PPO iteration's metrics.jsonl line under TRL's names (objective/*, policy/*, loss/*,
 * val/*, returns/*, advantages/*, response_length/*), with the group statistics of the
 * critic-free estimators, the non-finite counters and the phases' times.
 */
final class IterationMetrics {
  private IterationMetrics() {}

  /**
   * When each phase ended (System.nanoTime), and the seconds spent scoring within sampling.
   *
   * @param rows this rank's samples
   */
  record Times(long start, long sampled, long referenced, long learned, double scoringSeconds, int rows) {}

  /**
   * What learning did: its losses, its epochs, the learning rate, the non-finite counters after
   * it, and the seconds of it spent in optimizer steps.
   */
  record Learning(LossAggregate losses, int epochs, double lr, long skippedSteps, long skippedIterations,
      double optimizerSeconds) {}

  /** Adds a learned iteration's metrics to m (which holds sampling's and feedback's). */
  static void put(Map<String, Double> m, RewardStats rs, Advantages adv, double klCoef, Learning learning,
      Times t, double allreduceSeconds, Distributed dist) {
    AdvantageStats as = adv.stats();
    m.put("objective/kl", rs.kl());
    m.put("objective/kl_coef", klCoef);
    m.put("objective/entropy", rs.entropy());
    m.put("objective/scores", rs.scores());
    m.put("objective/non_score_reward", rs.nonScoreReward());
    m.put("objective/rlhf_reward", rs.rlhfReward());
    m.putAll(learning.losses().metrics(dist));
    m.put("val/var_explained", as.varExplained());
    m.put("returns/mean", as.returnsMean());
    m.put("returns/var", as.returnsVar());
    m.put("advantages/mean", as.advantagesMean());
    if (adv.groups().groups() > 0) {
      m.put("groups/zero_variance", (double) adv.groups().zeroVarianceGroups());
      m.put("groups/reward_std", adv.groups().seqRewardStd());
    }
    m.put("response_length/mean", rs.responseLength());
    m.put("response_length/eos_rate", rs.eosRate());
    m.put("lr", learning.lr());
    m.put("ppo/epochs", (double) learning.epochs());
    nonFinite(m, learning.skippedSteps(), learning.skippedIterations());
    m.put("time/rollout", (t.sampled() - t.start()) / 1e9);
    m.put("time/ref", (t.referenced() - t.sampled()) / 1e9);
    m.put("time/reward", t.scoringSeconds());
    m.put("time/learn", (t.learned() - t.referenced()) / 1e9);
    m.put("time/optimizer", learning.optimizerSeconds());
    m.put("tokens_per_s", rs.responseLength() * t.rows() / ((t.learned() - t.start()) / 1e9));
    if (dist.active()) m.put("time/allreduce", allreduceSeconds);
  }

  /** The non-finite counters: optimizer steps and iterations skipped so far. */
  static void nonFinite(Map<String, Double> m, long skippedSteps, long skippedIterations) {
    m.put("nonfinite/skipped_steps", (double) skippedSteps);
    m.put("nonfinite/skipped_iterations", (double) skippedIterations);
  }

  /** Every metric as the mean over ranks (counts and flags are the same on every rank). */
  static Map<String, Double> meanOverRanks(Map<String, Double> metrics, Distributed dist) {
    if (!dist.active()) return metrics;
    List<String> keys = new ArrayList<>(metrics.keySet());
    double[] values = new double[keys.size()];
    for (int i = 0; i < values.length; i++) values[i] = metrics.get(keys.get(i));
    double[] mean = dist.mean(values);
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < mean.length; i++) out.put(keys.get(i), mean[i]);
    return out;
  }
}
