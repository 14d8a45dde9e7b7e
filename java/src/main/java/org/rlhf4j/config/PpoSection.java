package org.rlhf4j.config;

import org.rlhf4j.engine.PpoOptions.KlEstimator;

/**
 * Section {@code ppo}: the PPO algorithm. Its defaults come from {@code preset}; see {@link
 * #seed()} and {@link #standard()}.
 */
public record PpoSection(
    @Doc("Defaults of this section: seed (the seed algorithm) or standard (TRL-like).") PpoPreset preset,
    @Doc("Per-token KL estimate: k1 (log-ratio), k3 (Schulman's, non-negative) or full.") KlEstimator klEstimator,
    @Doc("KL penalty coefficient (the initial one with adaptive_kl).") double klCoef,
    @Doc("Adapt kl_coef towards kl_target (Ziegler et al.'s proportional controller).") boolean adaptiveKl,
    @Doc("Target KL per response of the adaptive controller.") double klTarget,
    @Doc("Horizon in samples of the adaptive controller.") int klHorizon,
    @Doc("Discount factor.") double gamma,
    @Doc("GAE lambda (gamma = lam = 1: plain reward-to-go).") double lam,
    @Doc("Whiten advantages over the rollout batch.") boolean whitenAdvantages,
    @Doc("Clip the policy ratio to [1 - cliprange, 1 + cliprange].") boolean clipRatio,
    @Doc("Clip range of the policy ratio (when clip_ratio).") double cliprange,
    @Doc("Clip new values to old_values +- cliprange_value.") boolean clipValue,
    @Doc("Clip range of the values (when clip_value).") double cliprangeValue,
    @Doc("Weight of the critic loss.") double vfCoef,
    @Doc("Weight of the entropy bonus.") double entCoef,
    @Doc("Passes over each rollout batch.") int ppoEpochs,
    @Doc("Samples per optimizer step; must divide schedule.rollout_batch.") int minibatchSize,
    @Doc("Samples per forward/backward pass (gradient accumulation); must divide minibatch_size.")
        int microBatchSize,
    @Doc("Stop an iteration's epochs early when approx_kl exceeds this (null = never).") @Nullable Double targetKl) {

  public PpoSection {
    Check.notNull("preset", preset);
    Check.notNull("kl_estimator", klEstimator);
    Check.nonNegative("kl_coef", klCoef);
    Check.positive("kl_target", klTarget);
    Check.atLeast("kl_horizon", klHorizon, 1);
    Check.closed("gamma", gamma, 0, 1);
    Check.closed("lam", lam, 0, 1);
    Check.positive("cliprange", cliprange);
    Check.positive("cliprange_value", cliprangeValue);
    Check.nonNegative("vf_coef", vfCoef);
    Check.nonNegative("ent_coef", entCoef);
    Check.atLeast("ppo_epochs", ppoEpochs, 1);
    Check.atLeast("minibatch_size", minibatchSize, 1);
    Check.atLeast("micro_batch_size", microBatchSize, 1);
    if (targetKl != null) Check.positive("target_kl", targetKl);
  }

  /** The seed algorithm: k1 KL at 0.2, gamma = lam = 1, no whitening or clipping, vf_coef 0.1, 4 epochs. */
  public static PpoSection seed() {
    return new PpoSection(PpoPreset.SEED, KlEstimator.K1, 0.2, false, 6, 10000, 1, 1, false, false, 0.2, false,
        0.2, 0.1, 0, 4, 8, 8, null);
  }

  /** {@link #seed()} with lam 0.95, whitening, ratio and value clipping, adaptive KL (target 6, horizon 10000). */
  public static PpoSection standard() {
    return new PpoSection(PpoPreset.STANDARD, KlEstimator.K1, 0.2, true, 6, 10000, 1, 0.95, true, true, 0.2, true,
        0.2, 0.1, 0, 4, 8, 8, null);
  }
}
