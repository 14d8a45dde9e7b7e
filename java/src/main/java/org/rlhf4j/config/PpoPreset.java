package org.rlhf4j.config;

/** Named defaults of the {@code ppo} section, chosen by {@code ppo.preset}. */
public enum PpoPreset implements ConfigPreset<PpoSection> {
  /** The seed algorithm exactly: k1 KL, reward-to-go, no clipping, no whitening, fixed KL. */
  SEED,
  /**
   * lm-human-preferences / TRL: GAE lambda 0.95, advantage whitening, clipped ratio and values,
   * adaptive KL controller.
   */
  STANDARD;

  @Override
  public PpoSection defaults() {
    return switch (this) {
      case SEED -> PpoSection.seed();
      case STANDARD -> PpoSection.standard();
    };
  }
}
