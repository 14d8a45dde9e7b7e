package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * What the native PPO phases report (r4j_reward_stats, r4j_advantage_stats, r4j_ppo_stats).
 * The records are immutable and thread-safe.
 */
public final class PpoResults {
  private PpoResults() {}

  /** Feedback: means over samples of per-sample sums (TRL's objective/*). */
  public record RewardStats(double kl, double nonScoreReward, double scores, double rlhfReward, double entropy,
      double responseLength, double eosRate, boolean nonFinite) {
    static RewardStats read(MemorySegment s) {
      Struct r = Layouts.REWARD_STATS;
      return new RewardStats(r.getDouble(s, "kl"), r.getDouble(s, "non_score_reward"), r.getDouble(s, "scores"),
          r.getDouble(s, "rlhf_reward"), r.getDouble(s, "entropy"), r.getDouble(s, "response_length"),
          r.getDouble(s, "eos_rate"), r.getBool(s, "non_finite"));
    }
  }

  /** Returns and advantages over response tokens. */
  public record AdvantageStats(double returnsMean, double returnsVar, double advantagesMean, double valuesMean,
      double varExplained, boolean nonFinite) {
    static AdvantageStats read(MemorySegment s) {
      Struct a = Layouts.ADVANTAGE_STATS;
      return new AdvantageStats(a.getDouble(s, "returns_mean"), a.getDouble(s, "returns_var"),
          a.getDouble(s, "advantages_mean"), a.getDouble(s, "values_mean"), a.getDouble(s, "var_explained"),
          a.getBool(s, "non_finite"));
    }
  }

  /** One micro-batch of the PPO loss; token-weighted means. */
  public record LossStats(double lossPolicy, double lossValue, double lossTotal, double entropy, double approxkl,
      double policyClipfrac, double ratioMean, double ratioVar, double valueClipfrac, double vpred, long nTokens,
      boolean nonFinite) {
    static LossStats read(MemorySegment s) {
      Struct p = Layouts.PPO_STATS;
      return new LossStats(p.getDouble(s, "loss_policy"), p.getDouble(s, "loss_value"),
          p.getDouble(s, "loss_total"), p.getDouble(s, "entropy"), p.getDouble(s, "approxkl"),
          p.getDouble(s, "policy_clipfrac"), p.getDouble(s, "ratio_mean"), p.getDouble(s, "ratio_var"),
          p.getDouble(s, "value_clipfrac"), p.getDouble(s, "vpred"), p.getLong(s, "n_tokens"),
          p.getBool(s, "non_finite"));
    }
  }

  /** What the group estimators saw: groups, and those whose rewards were all equal. */
  public record GroupStats(long groups, long zeroVarianceGroups, double seqRewardMean, double seqRewardStd) {
    static GroupStats read(MemorySegment s) {
      Struct g = Layouts.GROUP_STATS;
      return new GroupStats(g.getLong(s, "groups"), g.getLong(s, "zero_variance_groups"),
          g.getDouble(s, "seq_reward_mean"), g.getDouble(s, "seq_reward_std"));
    }
  }

  /** Advantages with the estimator's group statistics. */
  public record Advantages(AdvantageStats stats, GroupStats groups) {}

  /** One micro-batch's extra statistics: the KL loss term, the dual clip, sequences that counted. */
  public record AlgoLossStats(double klLoss, double dualClipfrac, long nSequences) {
    static AlgoLossStats read(MemorySegment s) {
      Struct a = Layouts.ALGO_LOSS_STATS;
      return new AlgoLossStats(a.getDouble(s, "kl_loss"), a.getDouble(s, "dual_clipfrac"), a.getLong(s, "n_sequences"));
    }
  }

  /** One micro-batch of the loss: PPO's statistics and the algorithm's. */
  public record Loss(LossStats stats, AlgoLossStats algo) {}

  /** One optimizer step. */
  public record StepResult(double gradNorm, boolean skipped, long step) {
    static StepResult read(MemorySegment s) {
      Struct r = Layouts.STEP_RESULT;
      return new StepResult(r.getDouble(s, "grad_norm"), r.getBool(s, "skipped"), r.getLong(s, "step"));
    }
  }
}
