// The PPO math, one file per phase: rewards.cpp (feedback), advantages.cpp
// (returns and advantages), losses.cpp (the learning objective).
#pragma once

#include <ATen/ATen.h>

#include "../model.hpp"
#include "../rollout.hpp"
#include "rlhf4j.h"

namespace r4j {

r4j_ppo_options validate(const r4j_ppo_options& options);

// Per-token KL with the chosen estimator, [B, R], zero off the response mask.
at::Tensor kl_estimate(Rollout& rollout, int32_t estimator);

// Writes KL and REWARDS: rewards[t] = -kl_coef * KL[t], plus the score on
// the last response token.
r4j_reward_stats compute_rewards(Rollout& rollout, const r4j_ppo_options& options, double kl_coef,
                                 double score_shift, double score_scale);

// Writes RETURNS, ADVANTAGES and ADVANTAGES_WHITENED by GAE(gamma, lambda).
r4j_advantage_stats compute_advantages(Rollout& rollout, const r4j_ppo_options& options);

// The policy (actor) objective over [n, R] tensors; mask is float.
struct PolicyLoss {
  at::Tensor loss;      // pg_loss, scalar
  at::Tensor clipfrac;  // share of tokens where the clipped branch was larger
  at::Tensor ratio;     // [n, R]
  at::Tensor log_ratio; // [n, R], zero off the mask
};
PolicyLoss policy_loss(const at::Tensor& logprobs, const at::Tensor& old_logprobs, const at::Tensor& advantages,
                       const at::Tensor& mask, const r4j_ppo_options& options);

// The value (critic) objective over [n, R] tensors.
struct ValueLoss {
  at::Tensor loss;      // vf_loss, scalar
  at::Tensor clipfrac;
};
ValueLoss value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                     const at::Tensor& mask, const r4j_ppo_options& options);

// The loss of one micro-batch of samples (indices [n] int64 on the rollout's
// device), with gradients accumulated scaled by loss_scale.
r4j_ppo_stats accumulate_loss(Model& actor, Model* critic, Rollout& rollout, const at::Tensor& indices,
                              const r4j_ppo_options& options, double loss_scale);

}  // namespace r4j
