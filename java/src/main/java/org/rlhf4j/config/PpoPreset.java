package org.rlhf4j.config;

/**
 * Named defaults of the {@code ppo} section, chosen by {@code ppo.preset}, each the defaults of
 * the library that published it. A preset also chooses generation.num_samples when it is not
 * set ({@link #numSamples()}).
 */
public enum PpoPreset implements ConfigPreset<PpoSection> {
  /** The seed algorithm exactly: k1 KL, reward-to-go, no clipping, no whitening, fixed KL. */
  SEED,
  /**
   * lm-human-preferences / TRL: GAE lambda 0.95, advantage whitening, clipped ratio and values,
   * adaptive KL controller.
   */
  STANDARD,
  /** TRL's GRPOTrainer: 8 samples per prompt, group-normalised advantages, beta 0, token mean. */
  GRPO,
  /** Dr. GRPO: GRPO without the std division, token sums over max_new_tokens. */
  DR_GRPO,
  /** DAPO (verl's recipe): 16 samples, clip-higher, dynamic sampling, token mean, overlong shaping. */
  DAPO,
  /** TRL's RLOOTrainer: 2 samples, leave-one-out baseline, KL 0.05 in the reward. */
  RLOO,
  /** OpenRLHF's REINFORCE++: one sample per prompt, whitened reward-to-go, KL 0.01 in the reward. */
  REINFORCE_PP;

  @Override
  public PpoSection defaults() {
    return switch (this) {
      case SEED -> PpoSection.seed();
      case STANDARD -> PpoSection.standard();
      case GRPO -> PpoSection.grpo();
      case DR_GRPO -> PpoSection.drGrpo();
      case DAPO -> PpoSection.dapo();
      case RLOO -> PpoSection.rloo();
      case REINFORCE_PP -> PpoSection.reinforcePp();
    };
  }

  /** Responses per prompt when generation.num_samples is not set. */
  public int numSamples() {
    return switch (this) {
      case SEED, STANDARD, REINFORCE_PP -> 1;
      case GRPO, DR_GRPO -> 8;
      case DAPO -> 16;
      case RLOO -> 2;
    };
  }
}
