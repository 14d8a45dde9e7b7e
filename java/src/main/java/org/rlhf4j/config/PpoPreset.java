package org.rlhf4j.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Named settings of the {@code ppo} section, chosen by {@code ppo.preset}, each the defaults of
 * the library that published it, written as the keys it changes from {@link PpoSection#defaults()}
 * (the seed). The loader applies them as --set would, beneath the file and every --set. A preset
 * also chooses generation.num_samples when it is not set ({@link #numSamples()}).
 */
public enum PpoPreset implements ConfigPreset {
  /** The seed algorithm exactly: k1 KL, reward-to-go, no clipping, no whitening, fixed KL. */
  SEED(keys()),
  /**
   * lm-human-preferences / TRL: GAE lambda 0.95, advantage whitening, clipped ratio and values,
   * adaptive KL controller (target 6, horizon 10000).
   */
  STANDARD(keys("adaptive_kl", "true", "lam", "0.95", "whiten_advantages", "true", "clip_ratio", "true",
      "clip_value", "true")),
  /** TRL's GRPOTrainer: 8 samples per prompt, group-normalised advantages, beta 0 (KL loss k3 at weight 0), token mean. */
  GRPO(keys("clip_ratio", "true", "ppo_epochs", "1", "estimator", "grpo", "kl_in", "loss")),
  /** Dr. GRPO (Liu et al. 2025; TRL's loss_type dr_grpo): no std scaling, token sums / max_new_tokens. */
  DR_GRPO(keys("clip_ratio", "true", "ppo_epochs", "1", "estimator", "grpo", "scale_rewards", "none", "kl_in", "loss",
      "loss_agg", "seq_mean_token_sum_norm")),
  /**
   * DAPO (Yu et al. 2025; verl's recipe): 16 samples, GRPO advantages, no KL, clip-higher 0.2 /
   * 0.28, token mean, dynamic sampling (up to 10 extra rounds), soft overlong punishment (factor 1).
   */
  DAPO(keys("clip_ratio", "true", "ppo_epochs", "1", "estimator", "grpo", "kl_in", "none", "cliprange_low", "0.2",
      "cliprange_high", "0.28", "dynamic_sampling", "true", "max_resample_batches", "10",
      "overlong_penalty_factor", "1.0")),
  /** TRL's RLOOTrainer: 2 samples, leave-one-out baseline, KL (k1) 0.05 in the reward, eps 0.2. */
  RLOO(keys("kl_coef", "0.05", "clip_ratio", "true", "ppo_epochs", "1", "estimator", "rloo")),
  /** OpenRLHF's REINFORCE++: one sample per prompt, whitened reward-to-go, KL (k1) 0.01 in the reward, eps 0.2. */
  REINFORCE_PP(keys("kl_coef", "0.01", "clip_ratio", "true", "ppo_epochs", "1", "estimator", "reinforce_pp"));

  private final Map<String, String> overrides;

  PpoPreset(Map<String, String> overrides) {
    this.overrides = overrides;
  }

  @Override
  public Map<String, String> overrides() {
    return overrides;
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

  private static Map<String, String> keys(String... keyValues) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) out.put(keyValues[i], keyValues[i + 1]);
    return java.util.Collections.unmodifiableMap(out);
  }
}
