package org.rlhf4j.config;

import org.rlhf4j.engine.AlgoOptions.Estimator;
import org.rlhf4j.engine.AlgoOptions.ImportanceSampling;
import org.rlhf4j.engine.AlgoOptions.KlIn;
import org.rlhf4j.engine.AlgoOptions.KlLossEstimator;
import org.rlhf4j.engine.AlgoOptions.LossAgg;
import org.rlhf4j.engine.AlgoOptions.ScaleRewards;
import org.rlhf4j.engine.PpoOptions.KlEstimator;

/**
 * Section {@code ppo}: the algorithm. PPO, GRPO, Dr. GRPO, DAPO, RLOO and REINFORCE++ are
 * points in this one space; {@code preset} names the published defaults of each (see {@link
 * PpoPreset}).
 */
public record PpoSection(
    @Doc("Defaults of this section: seed, standard (TRL's PPO), grpo, dr_grpo, dapo, rloo or reinforce_pp.")
        PpoPreset preset,
    @Doc("Per-token KL estimate in the reward: k1 (log-ratio), k3 (Schulman's, non-negative) or full.")
        KlEstimator klEstimator,
    @Doc("KL penalty coefficient in the reward (the initial one with adaptive_kl).") double klCoef,
    @Doc("Adapt kl_coef towards kl_target (Ziegler et al.'s proportional controller).") boolean adaptiveKl,
    @Doc("Target KL per response of the adaptive controller.") double klTarget,
    @Doc("Horizon in samples of the adaptive controller.") int klHorizon,
    @Doc("Discount factor.") double gamma,
    @Doc("GAE lambda (gamma = lam = 1: plain reward-to-go).") double lam,
    @Doc("Whiten advantages over the rollout batch (gae, grpo, rloo; reinforce_pp always whitens).")
        boolean whitenAdvantages,
    @Doc("Clip the policy ratio to [1 - cliprange_low, 1 + cliprange_high].") boolean clipRatio,
    @Doc("Clip range of the policy ratio (when clip_ratio; both sides unless cliprange_low/high say).")
        double cliprange,
    @Doc("Clip new values to old_values +- cliprange_value.") boolean clipValue,
    @Doc("Clip range of the values (when clip_value).") double cliprangeValue,
    @Doc("Weight of the critic loss.") double vfCoef,
    @Doc("Weight of the entropy bonus.") double entCoef,
    @Doc("Passes over each rollout batch.") int ppoEpochs,
    @Doc("Samples per optimizer step; must divide schedule.rollout_batch x generation.num_samples.")
        int minibatchSize,
    @Doc("Samples per forward/backward pass (gradient accumulation); must divide minibatch_size.")
        int microBatchSize,
    @Doc("Stop an iteration's epochs early when approx_kl exceeds this (null = never).") @Nullable Double targetKl,
    @Doc("Advantage estimator: gae (PPO, with a critic), grpo, rloo, reinforce_pp or reinforce_pp_baseline "
        + "(critic-free: no value head is made).") Estimator estimator,
    @Doc("GRPO's divisor of r - mean_group: group (its std), batch (the batch's std) or none (Dr. GRPO).")
        ScaleRewards scaleRewards,
    @Doc("Where the KL to the reference goes: reward (-kl_coef * KL per token), loss (kl_loss_coef * KL added "
        + "to each token's loss) or none.") KlIn klIn,
    @Doc("KL estimator of the loss term: k1, k2, k3 or k3_plus (k3's value, k2's gradient).")
        KlLossEstimator klLossEstimator,
    @Doc("Weight of the KL loss term (when kl_in: loss; TRL's beta).") double klLossCoef,
    @Doc("Loss aggregation over the minibatch: token_mean (all its tokens), seq_mean_token_mean, "
        + "seq_mean_token_sum or seq_mean_token_sum_norm (/ generation.max_new_tokens: Dr. GRPO).") LossAgg lossAgg,
    @Doc("Lower clip of the ratio, 1 - cliprange_low (null = cliprange).") @Nullable Double cliprangeLow,
    @Doc("Upper clip of the ratio, 1 + cliprange_high (null = cliprange; DAPO's clip-higher: 0.28).")
        @Nullable Double cliprangeHigh,
    @Doc("Dual clip c > 1: a negative advantage's loss is at most -A * c (null = off; Ye et al.'s 3).")
        @Nullable Double dualClip,
    @Doc("Importance ratio per token (PPO) or per sequence, exp of the mean token log-ratio (GSPO).")
        ImportanceSampling importanceSampling,
    @Doc("Leave responses that hit max_new_tokens without EOS out of the loss (DAPO's overlong filtering).")
        boolean maskTruncated,
    @Doc("Drop groups whose rewards are all equal and sample more prompts until the batch is full (DAPO).")
        boolean dynamicSampling,
    @Doc("Most extra sampling rounds per iteration with dynamic_sampling; then the batch trains as it is.")
        int maxResampleBatches,
    @Doc("Soft overlong punishment factor (DAPO): score += min(-(|y| - (L_max - L_buf)) / L_buf, 0) x this "
        + "(0 = off).") double overlongPenaltyFactor,
    @Doc("L_buf of the overlong punishment, in tokens (null = generation.max_new_tokens / 5, DAPO's 4096 of "
        + "20480).") @Nullable Integer overlongBufferLen) {

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
    Check.notNull("estimator", estimator);
    Check.notNull("scale_rewards", scaleRewards);
    Check.notNull("kl_in", klIn);
    Check.notNull("kl_loss_estimator", klLossEstimator);
    Check.nonNegative("kl_loss_coef", klLossCoef);
    Check.notNull("loss_agg", lossAgg);
    if (cliprangeLow != null) Check.halfOpen("cliprange_low", cliprangeLow, 0, 1);
    if (cliprangeHigh != null) Check.positive("cliprange_high", cliprangeHigh);
    if (dualClip != null && !(dualClip > 1 && Double.isFinite(dualClip))) {
      throw new ConfigException("dual_clip must be a finite number > 1 (or null = off), got " + dualClip);
    }
    Check.notNull("importance_sampling", importanceSampling);
    Check.atLeast("max_resample_batches", maxResampleBatches, 0);
    Check.nonNegative("overlong_penalty_factor", overlongPenaltyFactor);
    if (overlongBufferLen != null) Check.atLeast("overlong_buffer_len", overlongBufferLen, 1);
  }

  /** The seed algorithm: k1 KL at 0.2, gamma = lam = 1, no whitening or clipping, vf_coef 0.1, 4 epochs. */
  public static PpoSection seed() {
    return ppo(PpoPreset.SEED, false, 1, false, false, false);
  }

  /** {@link #seed()} with lam 0.95, whitening, ratio and value clipping, adaptive KL (target 6, horizon 10000). */
  public static PpoSection standard() {
    return ppo(PpoPreset.STANDARD, true, 0.95, true, true, true);
  }

  private static PpoSection ppo(PpoPreset preset, boolean adaptive, double lam, boolean whiten, boolean clipRatio,
      boolean clipValue) {
    return new PpoSection(preset, KlEstimator.K1, 0.2, adaptive, 6, 10000, 1, lam, whiten, clipRatio, 0.2, clipValue,
        0.2, 0.1, 0, 4, 8, 8, null, Estimator.GAE, ScaleRewards.GROUP, KlIn.REWARD, KlLossEstimator.K3, 0,
        LossAgg.TOKEN_MEAN, null, null, null, ImportanceSampling.TOKEN, false, false, 0, 0, null);
  }

  /**
   * A critic-free preset: one epoch, clipped ratio 0.2, no whitening, KL and aggregation as
   * given, nothing DAPO-specific.
   */
  private static PpoSection criticFree(PpoPreset preset, Estimator estimator, ScaleRewards scale, KlIn klIn,
      double klCoef, LossAgg agg) {
    return new PpoSection(preset, KlEstimator.K1, klCoef, false, 6, 10000, 1, 1, false, true, 0.2, false, 0.2, 0.1,
        0, 1, 8, 8, null, estimator, scale, klIn, KlLossEstimator.K3, 0, agg, null, null, null,
        ImportanceSampling.TOKEN, false, false, 0, 0, null);
  }

  /** TRL's GRPOTrainer: group-scaled advantages, beta 0 (KL loss k3 at weight 0), token mean, eps 0.2, one epoch. */
  public static PpoSection grpo() {
    return criticFree(PpoPreset.GRPO, Estimator.GRPO, ScaleRewards.GROUP, KlIn.LOSS, 0.2, LossAgg.TOKEN_MEAN);
  }

  /** Dr. GRPO (Liu et al. 2025; TRL's loss_type dr_grpo): no std scaling, token sums / max_new_tokens. */
  public static PpoSection drGrpo() {
    return criticFree(PpoPreset.DR_GRPO, Estimator.GRPO, ScaleRewards.NONE, KlIn.LOSS, 0.2,
        LossAgg.SEQ_MEAN_TOKEN_SUM_NORM);
  }

  /**
   * DAPO (Yu et al. 2025; verl's recipe): GRPO advantages, no KL, clip-higher 0.2 / 0.28, token
   * mean, dynamic sampling (up to 10 extra rounds), soft overlong punishment (factor 1).
   */
  public static PpoSection dapo() {
    PpoSection g = criticFree(PpoPreset.DAPO, Estimator.GRPO, ScaleRewards.GROUP, KlIn.NONE, 0.2,
        LossAgg.TOKEN_MEAN);
    return new PpoSection(g.preset, g.klEstimator, g.klCoef, g.adaptiveKl, g.klTarget, g.klHorizon, g.gamma, g.lam,
        g.whitenAdvantages, g.clipRatio, g.cliprange, g.clipValue, g.cliprangeValue, g.vfCoef, g.entCoef,
        g.ppoEpochs, g.minibatchSize, g.microBatchSize, g.targetKl, g.estimator, g.scaleRewards, g.klIn,
        g.klLossEstimator, g.klLossCoef, g.lossAgg, 0.2, 0.28, null, g.importanceSampling, false, true, 10, 1.0,
        null);
  }

  /** TRL's RLOOTrainer: k = 2, leave-one-out baseline, beta 0.05 KL (k1) in the reward, eps 0.2. */
  public static PpoSection rloo() {
    return criticFree(PpoPreset.RLOO, Estimator.RLOO, ScaleRewards.GROUP, KlIn.REWARD, 0.05, LossAgg.TOKEN_MEAN);
  }

  /** OpenRLHF's REINFORCE++: KL (k1) 0.01 in the reward, reward-to-go, batch-whitened, eps 0.2. */
  public static PpoSection reinforcePp() {
    return criticFree(PpoPreset.REINFORCE_PP, Estimator.REINFORCE_PP, ScaleRewards.GROUP, KlIn.REWARD, 0.01,
        LossAgg.TOKEN_MEAN);
  }
}
