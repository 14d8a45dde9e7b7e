// The PPO math, one file per phase: rewards.cpp (feedback), advantages.cpp
// (returns and advantages), losses.cpp (the learning objective).
#pragma once

#include <ATen/ATen.h>

#include "../model.hpp"
#include "../rollout.hpp"
#include "rlhf4j.h"

namespace r4j {

r4j_ppo_options validate(const r4j_ppo_options& options);
r4j_algo_options validate(const r4j_algo_options& algo);

// r4j_algo_options_defaults: PPO (GAE, KL in the reward, token mean, symmetric clip).
r4j_algo_options algo_defaults();

// Throws naming the value unless estimator is an R4J_ESTIMATOR_* of the table in advantages.cpp.
void require_estimator(int32_t estimator);

// Whether the estimator learns a value head (GAE); critic-free ones need none.
bool uses_critic(const r4j_algo_options& a);

// [B, R] float: 1 on the response tokens the policy chose (response mask *
// ACTION_MASK when written; checked to be 0/1 with an action token per sample).
at::Tensor action_mask(const Rollout& rollout);

// [B, 1] long: the position of each row's last 1 in mask [B, R].
at::Tensor last_token(const at::Tensor& mask);

// [B, R] float: 1 on action tokens that count in the loss (truncated samples
// are dropped when mask_truncated).
at::Tensor loss_mask(const Rollout& rollout, const r4j_algo_options& algo);

// Per-token KL with the chosen estimator, [B, R], zero off the response mask.
at::Tensor kl_estimate(Rollout& rollout, int32_t estimator);

// Writes KL and REWARDS: rewards[t] = -kl_coef * KL[t] (kl_in reward), plus
// the score (with DAPO's overlong shaping) on the last response token; also
// writes LOSS_MASK and SCORES_SHAPED.
r4j_reward_stats compute_rewards(Rollout& rollout, const r4j_ppo_options& options, const r4j_algo_options& algo,
                                 double kl_coef, double score_shift, double score_scale);

// Writes RETURNS, ADVANTAGES and ADVANTAGES_WHITENED by the chosen estimator
// (GAE(gamma, lambda) for PPO); group_stats may be null.
r4j_advantage_stats compute_advantages(Rollout& rollout, const r4j_ppo_options& options, const r4j_algo_options& algo,
                                       r4j_group_stats* group_stats);

// Per-sample statistics of the group each sample belongs to, [B] each
// (groups from GROUP_ID; a group's samples need not be adjacent).
struct GroupStats {
  at::Tensor mean;      // mean of x over the group
  at::Tensor std;       // its standard deviation (Bessel: n - 1); NaN for a group of one
  at::Tensor size;      // samples in the group (float)
  at::Tensor constant;  // bool: every x of the group is equal
  int64_t groups = 0;
};
GroupStats group_stats(const at::Tensor& x, const at::Tensor& group_id);

// Throws naming the value unless importance_sampling is an R4J_IS_* of the
// policy-loss table in losses.cpp.
void require_policy_loss(int32_t importance_sampling);

// The per-token policy objective with the algorithm's clipping and ratio
// (before aggregation), [n, R], zero off the mask.
struct PolicyLossTokens {
  at::Tensor pg_losses;      // [n, R]
  at::Tensor clipped;        // [n, R] float: the clipped branch was larger
  at::Tensor dual_clipped;   // [n, R] float: the dual clip's bound won
  at::Tensor ratio;          // [n, R] (the sequence's ratio on each token with IS_SEQUENCE)
  at::Tensor log_ratio;      // [n, R] per-token logp - old_logp, zero off the mask
};
PolicyLossTokens policy_loss_tokens(const at::Tensor& logprobs, const at::Tensor& old_logprobs,
                                    const at::Tensor& advantages, const at::Tensor& mask,
                                    const r4j_ppo_options& options, const r4j_algo_options& algo);

// Per-token KL(pi || ref) for the loss, [n, R], by R4J_KL_LOSS_*; differentiable in logprobs.
at::Tensor kl_loss_tokens(const at::Tensor& logprobs, const at::Tensor& ref_logprobs, int32_t estimator);

// Aggregates per-token losses [n, R] over mask by R4J_LOSS_* (a mean over the
// micro-batch's tokens or samples); max_new_tokens normalises SEQ_MEAN_TOKEN_SUM_NORM.
at::Tensor aggregate_loss(const at::Tensor& losses, const at::Tensor& mask, int32_t mode, int64_t max_new_tokens);

// The value (critic) objective over [n, R] tensors.
struct ValueLoss {
  at::Tensor loss;      // vf_loss, scalar
  at::Tensor clipfrac;
};
ValueLoss value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                     const at::Tensor& mask, const r4j_ppo_options& options);

// The loss of one micro-batch of samples (indices [n] int64 on the rollout's
// device), with gradients accumulated scaled by loss_scale; algo_stats may be null.
r4j_ppo_stats accumulate_loss(Model& actor, Model* critic, Rollout& rollout, const at::Tensor& indices,
                              const r4j_ppo_options& options, const r4j_algo_options& algo, double loss_scale,
                              r4j_algo_loss_stats* algo_stats);

// The token positions accumulate_loss's passes over these rows run, padding included
// (the passes' cut depends on the actor's width).
int64_t micro_batch_positions(const Model& actor, const Rollout& rollout, const at::Tensor& indices);

}  // namespace r4j
