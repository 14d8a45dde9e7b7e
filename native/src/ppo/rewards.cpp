// Feedback: the per-token reward of PPO-RLHF (Ziegler et al. 2019).
//   KL[t]      = old_logprobs[t] - ref_logprobs[t]            (k1, the seed's)
//              = (r - 1) - log r,  r = exp(ref - old)         (k3)
//              = sum_v pi_old(v) log(pi_old(v) / pi_ref(v))   (full)
//   rewards[t] = -kl_coef * KL[t]                               (kl_in reward; 0 otherwise)
//              + turn_rewards[t]                               (multi-turn episodes)
//   rewards[last] += score
// over the action tokens (response mask * ACTION_MASK); "last" is the last of them.
// DAPO's soft overlong punishment (Yu et al. 2025), after clipping:
//   score += min(-(|y| - (L_max - L_buf)) / L_buf, 0) * overlong_penalty_factor
// and its masking of truncated samples: LOSS_MASK = response mask * ended.
#include <cmath>
#include <string>

#include "../errors.hpp"
#include "masked.hpp"
#include "ppo.hpp"

namespace r4j {

at::Tensor action_mask(const Rollout& r) {
  auto mask = r.response_mask.to(at::kFloat);               // [B, R]
  if (!r.has(R4J_FIELD_ACTION_MASK)) return mask;
  const auto& actions = r.floats.at(R4J_FIELD_ACTION_MASK);
  require((actions.eq(0) | actions.eq(1)).all().item<bool>(), "ACTION_MASK must hold only 0 and 1");
  mask = mask * actions;
  require(mask.sum(1).gt(0).all().item<bool>(), "ACTION_MASK leaves a sample without an action token");
  return mask;
}

at::Tensor last_token(const at::Tensor& mask) {
  auto position = at::arange(mask.size(1), mask.options());  // [R]
  return (mask * position).amax(1).to(at::kLong).unsqueeze(1);
}

at::Tensor kl_estimate(Rollout& r, int32_t estimator) {
  auto mask = action_mask(r);                               // [B, R]
  if (estimator == R4J_KL_FULL) {
    require(r.has(R4J_FIELD_FULL_KL),
            "the full KL estimator needs FULL_KL: pass the policy to r4j_rollout_score_ref");
    return r.field(R4J_FIELD_FULL_KL) * mask;
  }
  auto log_ratio = r.field(R4J_FIELD_OLD_LOGPROBS) - r.field(R4J_FIELD_REF_LOGPROBS);  // log(pi_old / pi_ref)
  if (estimator == R4J_KL_K3) return (at::exp(-log_ratio) - 1 + log_ratio) * mask;
  require(estimator == R4J_KL_K1, "unknown kl_estimator " + std::to_string(estimator) + " (R4J_KL_*)");
  return log_ratio * mask;
}

at::Tensor loss_mask(const Rollout& r, const r4j_algo_options& a) {
  auto mask = action_mask(r);                               // [B, R]
  if (!a.mask_truncated) return mask;
  return mask * r.ended.to(at::kFloat).unsqueeze(1);
}

r4j_reward_stats compute_rewards(Rollout& r, const r4j_ppo_options& o, const r4j_algo_options& a, double kl_coef,
                                 double score_shift, double score_scale) {
  require(std::isfinite(kl_coef) && kl_coef >= 0, "kl_coef must be a finite number >= 0");
  require(std::isfinite(score_shift), "score_shift must be finite");
  require(std::isfinite(score_scale) && score_scale > 0, "score_scale must be > 0");
  auto mask = action_mask(r);                               // [B, R]
  auto kl = kl_estimate(r, o.kl_estimator);                 // [B, R]

  auto score = (r.field(R4J_FIELD_SCORES) - score_shift) / score_scale;  // [B]
  if (o.missing_eos_penalty_on) score = at::where(r.ended, score, at::full_like(score, o.missing_eos_penalty));
  if (o.score_clip > 0) score = score.clamp(-o.score_clip, o.score_clip);
  auto length = mask.sum(1);                                // [B]: |y|
  if (a.overlong_buffer_len > 0) {
    const double buffer = static_cast<double>(a.overlong_buffer_len);
    auto expected = static_cast<double>(a.max_new_tokens) - buffer;  // L_max - L_buf
    score = score + (-(length - expected) / buffer).clamp_max(0) * a.overlong_penalty_factor;
  }

  auto non_score = a.kl_in == R4J_KL_IN_REWARD ? -kl_coef * kl : at::zeros_like(kl);  // [B, R]
  auto per_token = non_score;                               // [B, R]
  if (r.has(R4J_FIELD_TURN_REWARDS)) per_token = per_token + r.floats.at(R4J_FIELD_TURN_REWARDS) * mask;
  auto rewards = per_token.scatter_add(1, last_token(mask), score.unsqueeze(1));

  r.field(R4J_FIELD_KL) = kl;
  r.field(R4J_FIELD_REWARDS) = rewards;
  r.field(R4J_FIELD_SCORES_SHAPED) = score;
  r.field(R4J_FIELD_LOSS_MASK) = loss_mask(r, a);

  r4j_reward_stats s{};
  s.kl = kl.sum(1).mean().item<double>();
  s.non_score_reward = non_score.sum(1).mean().item<double>();
  s.scores = score.mean().item<double>();
  s.rlhf_reward = s.scores + s.non_score_reward + (per_token - non_score).sum(1).mean().item<double>();
  s.entropy = (-r.field(R4J_FIELD_OLD_LOGPROBS) * mask).sum(1).mean().item<double>();
  s.response_length = mask.sum(1).mean().item<double>();
  s.eos_rate = r.ended.to(at::kFloat).mean().item<double>();
  s.non_finite = at::isfinite(rewards).all().item<bool>() ? 0 : 1;
  return s;
}

}  // namespace r4j
