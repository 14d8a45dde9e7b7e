package org.rlhf4j.config;

/**
 * ppo.rollout_correction: how the importance weight between the learner's recomputed log-probs
 * and the ones recorded while decoding multiplies each token's policy loss (TRL's
 * vllm_importance_sampling_mode). r = exp(learner - sampling), per token or, for the sequence
 * modes, exp of the sum over the response.
 */
public enum RolloutCorrection {
  /** No weight (the mismatch is still measured with ppo.log_rollout_mismatch). */
  NONE,
  /** Each token's r, clamped to [rollout_correction_min, rollout_correction_max]. */
  TOKEN_TRUNCATE,
  /** Each token's r, or 0 where it lies outside [min, max]. */
  TOKEN_MASK,
  /** The sequence's r on each of its tokens, clamped to [min, max]. */
  SEQUENCE_TRUNCATE,
  /** The sequence's r on each of its tokens, or 0 for the whole sequence outside [min, max]. */
  SEQUENCE_MASK;

  public boolean perSequence() {
    return this == SEQUENCE_TRUNCATE || this == SEQUENCE_MASK;
  }

  public boolean masks() {
    return this == TOKEN_MASK || this == SEQUENCE_MASK;
  }
}
