package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The switches that make PPO's three phases into GRPO, Dr. GRPO, DAPO, RLOO or REINFORCE++
 * (r4j_algo_options). {@link #defaults()} is PPO.
 * Immutable and thread-safe.
 *
 * @param cliprangeLow the ratio's lower clip; 0 = {@link PpoOptions#cliprange()}
 * @param cliprangeHigh the ratio's upper clip; 0 = {@link PpoOptions#cliprange()}
 * @param dualClip c > 1: a negative advantage's loss is at most -A * c; 0 = off
 * @param maxNewTokens L_max: Dr. GRPO's divisor and the end of DAPO's overlong buffer
 */
public record AlgoOptions(
    Estimator estimator,
    ScaleRewards scaleRewards,
    KlIn klIn,
    KlLossEstimator klLossEstimator,
    double klLossCoef,
    LossAgg lossAgg,
    long maxNewTokens,
    double cliprangeLow,
    double cliprangeHigh,
    double dualClip,
    ImportanceSampling importanceSampling,
    boolean maskTruncated,
    long overlongBufferLen,
    double overlongPenaltyFactor) {

  /** The advantage estimator. */
  public enum Estimator {
    /** GAE(gamma, lambda) with a critic: PPO. */
    GAE(0),
    /** (r - mean_group) / (std_group + 1e-4) (DeepSeekMath). */
    GRPO(1),
    /** r - mean of the group's other rewards (Ahmadian et al.). */
    RLOO(2),
    /** Reward-to-go of per-token rewards, whitened over the batch (OpenRLHF). */
    REINFORCE_PP(3),
    /** As REINFORCE_PP with the group's mean score subtracted first. */
    REINFORCE_PP_BASELINE(4);

    final int code;

    Estimator(int code) {
      this.code = code;
    }

    /** Whether a critic (value head) takes part: only GAE's. */
    public boolean usesCritic() {
      return this == GAE;
    }

    /** Whether advantages compare the samples of one prompt. */
    public boolean usesGroups() {
      return this == GRPO || this == RLOO || this == REINFORCE_PP_BASELINE;
    }
  }

  /** GRPO's divisor. */
  public enum ScaleRewards {
    GROUP(0), BATCH(1), NONE(2);

    final int code;

    ScaleRewards(int code) {
      this.code = code;
    }
  }

  /** Where the KL to the reference goes. */
  public enum KlIn {
    REWARD(0), LOSS(1), NONE(2);

    final int code;

    KlIn(int code) {
      this.code = code;
    }
  }

  /** The KL estimator of the loss term (Schulman's k1, k2, k3; k3_plus: k3's value, k2's gradient). */
  public enum KlLossEstimator {
    K1(0), K2(1), K3(2), K3_PLUS(3);

    final int code;

    KlLossEstimator(int code) {
      this.code = code;
    }
  }

  /** How per-token losses are aggregated. */
  public enum LossAgg {
    TOKEN_MEAN(0), SEQ_MEAN_TOKEN_MEAN(1), SEQ_MEAN_TOKEN_SUM(2), SEQ_MEAN_TOKEN_SUM_NORM(3);

    final int code;

    LossAgg(int code) {
      this.code = code;
    }

    /** Whether the denominator counts tokens (else samples). */
    public boolean perToken() {
      return this == TOKEN_MEAN;
    }
  }

  /** Per-token ratios (PPO) or one per sequence (GSPO). */
  public enum ImportanceSampling {
    TOKEN(0), SEQUENCE(1);

    final int code;

    ImportanceSampling(int code) {
      this.code = code;
    }
  }

  /**
   * PPO: the native library's defaults (r4j_algo_options_defaults: GAE, KL in the reward, token
   * mean, the symmetric clip of PpoOptions). The engine keeps no copy of them.
   */
  public static AlgoOptions defaults() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(Layouts.ALGO_OPTIONS.layout());
      NativeLibrary.get().algoOptionsDefaults(s);
      Struct a = Layouts.ALGO_OPTIONS;
      return new AlgoOptions(Codes.of(Estimator.values(), a.getInt(s, "estimator"), e -> e.code),
          Codes.of(ScaleRewards.values(), a.getInt(s, "scale_rewards"), e -> e.code),
          Codes.of(KlIn.values(), a.getInt(s, "kl_in"), e -> e.code),
          Codes.of(KlLossEstimator.values(), a.getInt(s, "kl_loss_estimator"), e -> e.code),
          a.getDouble(s, "kl_loss_coef"), Codes.of(LossAgg.values(), a.getInt(s, "loss_agg"), e -> e.code),
          a.getLong(s, "max_new_tokens"), a.getDouble(s, "cliprange_low"), a.getDouble(s, "cliprange_high"),
          a.getDouble(s, "dual_clip"), Codes.of(ImportanceSampling.values(), a.getInt(s, "importance_sampling"),
              e -> e.code), a.getInt(s, "mask_truncated") != 0, a.getLong(s, "overlong_buffer_len"),
          a.getDouble(s, "overlong_penalty_factor"));
    }
  }

  void write(MemorySegment s) {
    Struct a = Layouts.ALGO_OPTIONS;
    a.set(s, "estimator", estimator.code);
    a.set(s, "scale_rewards", scaleRewards.code);
    a.set(s, "kl_in", klIn.code);
    a.set(s, "kl_loss_estimator", klLossEstimator.code);
    a.set(s, "kl_loss_coef", klLossCoef);
    a.set(s, "loss_agg", lossAgg.code);
    a.set(s, "max_new_tokens", maxNewTokens);
    a.set(s, "cliprange_low", cliprangeLow);
    a.set(s, "cliprange_high", cliprangeHigh);
    a.set(s, "dual_clip", dualClip);
    a.set(s, "importance_sampling", importanceSampling.code);
    a.set(s, "mask_truncated", maskTruncated);
    a.set(s, "overlong_buffer_len", overlongBufferLen);
    a.set(s, "overlong_penalty_factor", overlongPenaltyFactor);
  }
}
