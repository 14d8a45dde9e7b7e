package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * The PPO math's switches (r4j_ppo_options). {@link #seed()} is the seed algorithm exactly:
 * k1 KL, gamma = lambda = 1, no whitening, no ratio or value clipping, vf_coef 0.1. Immutable and
 * thread-safe.
 */
public record PpoOptions(
    KlEstimator klEstimator,
    double scoreClip,
    boolean missingEosPenaltyOn,
    double missingEosPenalty,
    double gamma,
    double lam,
    boolean whitenAdvantages,
    boolean clipRatio,
    double cliprange,
    boolean clipValue,
    double cliprangeValue,
    double vfCoef,
    double entCoef,
    double temperature) {

  /** How the per-token KL penalty is estimated. */
  public enum KlEstimator {
    /** old_logprobs - ref_logprobs: the seed's. */
    K1(0),
    /** (r - 1) - log r with r = p_ref / p_old: unbiased and non-negative (Schulman). */
    K3(1),
    /** The exact KL over the vocabulary. */
    FULL(2);

    final int code;

    KlEstimator(int code) {
      this.code = code;
    }
  }

  public static PpoOptions seed() {
    return new PpoOptions(KlEstimator.K1, 0, false, 0, 1.0, 1.0, false, false, 0.2, false, 0.2, 0.1, 0.0, 1.0);
  }

  /** lm-human-preferences / TRL: clipped ratio and values, GAE lambda 0.95, whitening. */
  public static PpoOptions standard() {
    return new PpoOptions(KlEstimator.K1, 0, false, 0, 1.0, 0.95, true, true, 0.2, true, 0.2, 0.1, 0.0, 1.0);
  }

  void write(MemorySegment s) {
    Struct p = Layouts.PPO_OPTIONS;
    p.set(s, "kl_estimator", klEstimator.code);
    p.set(s, "score_clip", scoreClip);
    p.set(s, "missing_eos_penalty_on", missingEosPenaltyOn);
    p.set(s, "missing_eos_penalty", missingEosPenalty);
    p.set(s, "gamma", gamma);
    p.set(s, "lam", lam);
    p.set(s, "whiten_advantages", whitenAdvantages);
    p.set(s, "clip_ratio", clipRatio);
    p.set(s, "cliprange", cliprange);
    p.set(s, "clip_value", clipValue);
    p.set(s, "cliprange_value", cliprangeValue);
    p.set(s, "vf_coef", vfCoef);
    p.set(s, "ent_coef", entCoef);
    p.set(s, "temperature", temperature);
  }
}
