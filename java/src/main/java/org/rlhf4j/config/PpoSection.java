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
 * points in this one space; {@code preset} names the published settings of each (see {@link
 * PpoPreset}), applied over {@link #defaults()}.
 */
public record PpoSection(
    @Doc("Defaults of this section: seed, standard (TRL's PPO), grpo, dr_grpo, dapo, rloo or reinforce_pp.")
        PpoPreset preset,
    @Doc("Per-token KL estimate in the reward: k1 (log-ratio), k3 (Schulman's, non-negative) or full.")
        KlEstimator klEstimator,
    @Doc("KL penalty coefficient in the reward (the initial one with adaptive_kl).") @Range(min = 0) double klCoef,
    @Doc("Adapt kl_coef towards kl_target (Ziegler et al.'s proportional controller).") boolean adaptiveKl,
    @Doc("Target KL per response of the adaptive controller.") @Range(min = 0, minExclusive = true) double klTarget,
    @Doc("Horizon in samples of the adaptive controller.") @Range(min = 1) int klHorizon,
    @Doc("Discount factor.") @Range(min = 0, max = 1) double gamma,
    @Doc("GAE lambda (gamma = lam = 1: plain reward-to-go).") @Range(min = 0, max = 1) double lam,
    @Doc("Whiten advantages over the rollout batch (gae, grpo, rloo; reinforce_pp always whitens).")
        boolean whitenAdvantages,
    @Doc("Clip the policy ratio to [1 - cliprange_low, 1 + cliprange_high].") boolean clipRatio,
    @Doc("Clip range of the policy ratio (when clip_ratio; both sides unless cliprange_low/high say).")
        @Range(min = 0, minExclusive = true) double cliprange,
    @Doc("Clip new values to old_values +- cliprange_value.") boolean clipValue,
    @Doc("Clip range of the values (when clip_value).") @Range(min = 0, minExclusive = true) double cliprangeValue,
    @Doc("Weight of the critic loss.") @Range(min = 0) double vfCoef,
    @Doc("Weight of the entropy bonus.") @Range(min = 0) double entCoef,
    @Doc("Passes over each rollout batch.") @Range(min = 1) int ppoEpochs,
    @Doc("Samples per optimizer step; must divide schedule.rollout_batch x generation.num_samples.")
        @Range(min = 1) int minibatchSize,
    @Doc("Samples per forward/backward pass (gradient accumulation); must divide minibatch_size.")
        @Range(min = 1) int microBatchSize,
    @Doc("Stop an iteration's epochs early when approx_kl exceeds this (null = never).") @Range(min = 0, minExclusive = true) @Nullable Double targetKl,
    @Doc("Advantage estimator (values: the type column): gae is PPO's, with a critic; the others are critic-free "
        + "(no value head is made).") Estimator estimator,
    @Doc("GRPO's divisor of r - mean_group: group (its std), batch (the batch's std) or none (Dr. GRPO).")
        ScaleRewards scaleRewards,
    @Doc("Where the KL to the reference goes: reward (-kl_coef * KL per token), loss (kl_loss_coef * KL added "
        + "to each token's loss) or none.") KlIn klIn,
    @Doc("KL estimator of the loss term: k1, k2, k3 or k3_plus (k3's value, k2's gradient).")
        KlLossEstimator klLossEstimator,
    @Doc("Weight of the KL loss term (when kl_in: loss; TRL's beta).") @Range(min = 0) double klLossCoef,
    @Doc("Loss aggregation over the minibatch: token_mean (all its tokens), seq_mean_token_mean, "
        + "seq_mean_token_sum or seq_mean_token_sum_norm (/ generation.max_new_tokens: Dr. GRPO).") LossAgg lossAgg,
    @Doc("Lower clip of the ratio, 1 - cliprange_low (null = cliprange).") @Range(min = 0, max = 1, maxExclusive = true) @Nullable Double cliprangeLow,
    @Doc("Upper clip of the ratio, 1 + cliprange_high (null = cliprange; DAPO's clip-higher: 0.28).")
        @Range(min = 0, minExclusive = true) @Nullable Double cliprangeHigh,
    @Doc("Dual clip c > 1: a negative advantage's loss is at most -A * c (null = off; Ye et al.'s 3).")
        @Range(min = 1, minExclusive = true) @Nullable Double dualClip,
    @Doc("Importance ratio per token (PPO) or per sequence, exp of the mean token log-ratio (GSPO).")
        ImportanceSampling importanceSampling,
    @Doc("Leave responses that hit max_new_tokens without EOS out of the loss (DAPO's overlong filtering).")
        boolean maskTruncated,
    @Doc("Drop groups whose rewards are all equal and sample more prompts until the batch is full (DAPO).")
        boolean dynamicSampling,
    @Doc("Most extra sampling rounds per iteration with dynamic_sampling; then the batch trains as it is.")
        @Range(min = 0) int maxResampleBatches,
    @Doc("Soft overlong punishment factor (DAPO): score += min(-(|y| - (L_max - L_buf)) / L_buf, 0) x this "
        + "(0 = off).") @Range(min = 0) double overlongPenaltyFactor,
    @Doc("L_buf of the overlong punishment, in tokens (null = generation.max_new_tokens / 5, DAPO's 4096 of "
        + "20480).") @Range(min = 1) @Nullable Integer overlongBufferLen,
    @Doc("Token budget of a micro-batch (verl's use_dynamic_bsz / ppo_max_token_len_per_gpu): each minibatch's "
        + "samples, sorted by length, are cut into micro-batches of at most this many padded prompt + response "
        + "tokens (a longer sample gets one of its own); micro_batch_size is then unused. 0 = off.")
        @Range(min = 0) int maxTokensPerMicroBatch,
    @Doc("Rollout correction (TRL's vllm_importance_sampling_mode): none, token_truncate, token_mask, "
        + "sequence_truncate or sequence_mask; each token's policy loss is multiplied by r = exp(learner - sampling "
        + "log-prob), per token or per sequence (exp of the sum), clamped to [min, max] (truncate) or zeroed outside "
        + "it (mask). On, the learner recomputes the old log-probs in one forward pass after sampling.")
        RolloutCorrection rolloutCorrection,
    @Doc("Upper bound of the rollout correction's r (TRL's vllm_importance_sampling_cap 3.0).")
        @Range(min = 0, minExclusive = true) double rolloutCorrectionMax,
    @Doc("Lower bound of the rollout correction's r (null = none, as TRL).") @Range(min = 0) @Nullable Double rolloutCorrectionMin,
    @Doc("Measure the rollout/train mismatch (sampling/sampling_logp_difference/*, sampling/importance_sampling_ratio/*) "
        + "without correcting: the learner recomputes the old log-probs after sampling, as with a rollout_correction.")
        boolean logRolloutMismatch,
    @Doc("Keep the log-probs (and values) recorded while decoding as the old policy's (verl's rollout_corr bypass "
        + "mode): a bf16/f16 policy skips the forward pass that otherwise recomputes them after sampling, and the "
        + "PPO ratio then compares with the sampling policy itself, its clip bounding the mismatch. Not with "
        + "rollout_correction or log_rollout_mismatch, which compare against that pass.")
        boolean keepDecodingLogprobs) {

  /** Whether the learner recomputes the old log-probs after sampling and the mismatch is measured. */
  public boolean measuresRolloutMismatch() {
    return rolloutCorrection != RolloutCorrection.NONE || logRolloutMismatch;
  }

  /** Ranges are {@link Range}s, checked by the loader; these are the keys that must be set. */
  public PpoSection {
    Check.notNull("preset", preset);
    Check.notNull("kl_estimator", klEstimator);
    Check.notNull("estimator", estimator);
    Check.notNull("scale_rewards", scaleRewards);
    Check.notNull("kl_in", klIn);
    Check.notNull("kl_loss_estimator", klLossEstimator);
    Check.notNull("loss_agg", lossAgg);
    Check.notNull("importance_sampling", importanceSampling);
    Check.notNull("rollout_correction", rolloutCorrection);
    Check.rule(!keepDecodingLogprobs || (rolloutCorrection == RolloutCorrection.NONE && !logRolloutMismatch),
        "ppo.keep_decoding_logprobs keeps no learner pass to compare with: set ppo.rollout_correction to none and "
        + "ppo.log_rollout_mismatch to false, or keep_decoding_logprobs false");
    Check.rule(rolloutCorrectionMin == null || rolloutCorrectionMin < rolloutCorrectionMax, "ppo.rollout_correction_min ("
        + rolloutCorrectionMin + ") must be below ppo.rollout_correction_max (" + rolloutCorrectionMax + ")");
  }

  /**
   * Every key at its default: the seed algorithm (k1 KL at 0.2, gamma = lam = 1, no whitening or
   * clipping, vf_coef 0.1, 4 epochs). The one source of the section's defaults: each {@link
   * PpoPreset} is the keys it changes from these, and the native r4j_ppo_options_defaults /
   * r4j_algo_options_defaults are held equal to them by PpoBoundsTest. Config is the source
   * because only it has every ppo key (kl_coef, epochs and batch sizes are no native option)
   * and it is what --help, config.yaml and the README show users.
   */
  public static PpoSection defaults() {
    return new PpoSection(PpoPreset.SEED, KlEstimator.K1, 0.2, false, 6, 10000, 1, 1, false, false, 0.2, false,
        0.2, 0.1, 0, 4, 8, 8, null, Estimator.GAE, ScaleRewards.GROUP, KlIn.REWARD, KlLossEstimator.K3, 0,
        LossAgg.TOKEN_MEAN, null, null, null, ImportanceSampling.TOKEN, false, false, 0, 0, null, 0,
        RolloutCorrection.NONE, 3.0, null, false, false);
  }
}
