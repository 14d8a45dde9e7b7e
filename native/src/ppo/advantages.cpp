// Returns and advantages, over response tokens only. The estimator is a switch
// (r4j_algo_options.estimator); r[i] below is sample i's sequence reward,
// sum_t rewards[i, t] (the score, plus the KL penalty when it is in the reward).
//
// gae (Schulman et al. 2016), with the critic:
//   delta[t] = r[t] + gamma * V[t+1] - V[t]        (V past the end = 0)
//   A[t]     = delta[t] + gamma * lambda * A[t+1]
//   returns  = A + V
// gamma = lambda = 1 gives the seed's returns[t] = sum_{j>=t} r[j] and
// A[t] = returns[t] - V[t].
//
// grpo (Shao et al. 2024, DeepSeekMath), per group g of samples of one prompt:
//   A_i = (r_i - mean_g(r)) / (std_g(r) + 1e-4)     scale_rewards group (std Bessel-corrected)
//       = (r_i - mean_g(r)) / (std_batch(r) + 1e-4) scale_rewards batch (all ranks)
//       =  r_i - mean_g(r)                          scale_rewards none (Dr. GRPO, Liu et al. 2025)
//
// rloo (Ahmadian et al. 2024), leave-one-out baseline:
//   A_i = r_i - (sum_g(r) - r_i) / (n_g - 1)
//
// reinforce_pp (REINFORCE++, Hu 2025): per-token rewards as PPO's,
//   returns[t] = sum_{j>=t} gamma^(j-t) rewards[j],  A = whiten(returns) over the batch's loss tokens
// reinforce_pp_baseline: the group's mean score subtracted from each sample's
//   score on its last token first, then as reinforce_pp.
//
// A sequence-level advantage sits on every response token. A group whose
// rewards are all equal gets advantage 0 (never 0/0). Advantages are data,
// never differentiated.
#include <string>

#include "../errors.hpp"
#include "masked.hpp"
#include "ppo.hpp"

namespace r4j {
namespace {

// A[t] = rewards[t] + gamma * V[t+1] - V[t] + gamma * lam * A[t+1], [B, R].
at::Tensor gae(const at::Tensor& rewards, const at::Tensor& values, double gamma, double lam) {
  const int64_t B = rewards.size(0), R = rewards.size(1);
  auto advantages = at::zeros_like(rewards);
  auto last_gae = at::zeros({B}, rewards.options());
  auto next_value = at::zeros({B}, rewards.options());
  for (int64_t t = R - 1; t >= 0; --t) {
    auto delta = rewards.select(1, t) + gamma * next_value - values.select(1, t);
    last_gae = delta + gamma * lam * last_gae;
    advantages.select(1, t).copy_(last_gae);
    next_value = values.select(1, t);
  }
  return advantages;
}

at::Tensor group_ids(Rollout& r) {
  require(r.has(R4J_FIELD_GROUP_ID),
          "group estimators (grpo, rloo, reinforce_pp_baseline) need GROUP_ID: write each sample's group with "
          "r4j_rollout_write first");
  return r.field(R4J_FIELD_GROUP_ID);
}

// std over the whole batch of per-sample x [B], Bessel-corrected, from every rank's samples.
at::Tensor batch_std(const at::Tensor& x) {
  auto n = all_ranks_sum(at::full({}, static_cast<double>(x.size(0)), x.options()));
  auto mean = all_ranks_sum(x.sum()) / n;
  return (all_ranks_sum((x - mean).pow(2).sum()) / (n - 1)).sqrt();
}

}  // namespace

GroupStats group_stats(const at::Tensor& x, const at::Tensor& group_id) {
  auto ids = group_id.to(at::kLong);
  at::Tensor unique, inverse;
  std::tie(unique, inverse, std::ignore) = at::_unique2(ids, /*sorted=*/true, /*return_inverse=*/true);
  const int64_t G = unique.size(0);
  auto opts = x.options();
  auto count = at::zeros({G}, opts).index_add_(0, inverse, at::ones_like(x));
  auto mean = at::zeros({G}, opts).index_add_(0, inverse, x) / count;
  auto sq = at::zeros({G}, opts).index_add_(0, inverse, (x - mean.index_select(0, inverse)).pow(2));
  auto std = (sq / (count - 1)).sqrt();
  // A group is constant when every member equals one member's value (whichever
  // index_put_ keeps among duplicates, the answer is the same).
  auto some_member = at::zeros({G}, opts).index_put_({inverse}, x);
  auto differing = at::zeros({G}, opts).index_add_(0, inverse, x.ne(some_member.index_select(0, inverse)).to(x.dtype()));
  GroupStats s;
  s.mean = mean.index_select(0, inverse);
  s.std = std.index_select(0, inverse);
  s.size = count.index_select(0, inverse);
  s.constant = differing.eq(0).index_select(0, inverse);
  s.groups = G;
  return s;
}

r4j_advantage_stats compute_advantages(Rollout& r, const r4j_ppo_options& o) {
  return compute_advantages(r, o, algo_defaults(), nullptr);
}

r4j_advantage_stats compute_advantages(Rollout& r, const r4j_ppo_options& o, const r4j_algo_options& a,
                                       r4j_group_stats* group_out) {
  require(r.has(R4J_FIELD_REWARDS), "advantages need REWARDS: call r4j_ppo_rewards first");
  at::NoGradGuard no_grad;
  auto mask = r.response_mask.to(at::kFloat);               // [B, R]
  auto lmask = loss_mask(r, a);                             // [B, R]
  auto rewards = r.field(R4J_FIELD_REWARDS) * mask;         // [B, R]
  auto seq_reward = rewards.sum(1);                         // [B]: r_i
  const bool critic = uses_critic(a);
  auto values = critic ? r.field(R4J_FIELD_OLD_VALUES) * mask : at::zeros_like(rewards);  // [B, R]

  r4j_group_stats gs{};
  at::Tensor advantages, returns, whitened;
  switch (a.estimator) {
    case R4J_ESTIMATOR_GAE: {
      advantages = gae(rewards, values, o.gamma, o.lam) * mask;
      returns = (advantages + values) * mask;
      whitened = o.whiten_advantages ? masked_whiten(advantages, lmask) : advantages;
      break;
    }
    case R4J_ESTIMATOR_GRPO:
    case R4J_ESTIMATOR_RLOO: {
      auto g = group_stats(seq_reward, group_ids(r));
      gs.groups = g.groups;
      at::Tensor A;                                         // [B]
      if (a.estimator == R4J_ESTIMATOR_GRPO) {
        auto centered = seq_reward - g.mean;
        if (a.scale_rewards == R4J_SCALE_GROUP) A = centered / (g.std + 1e-4);
        else if (a.scale_rewards == R4J_SCALE_BATCH) A = centered / (batch_std(seq_reward) + 1e-4);
        else A = centered;
      } else {
        require(g.size.min().item<double>() >= 2, "rloo needs at least 2 samples per group (generation.num_samples)");
        A = seq_reward - (g.mean * g.size - seq_reward) / (g.size - 1);
      }
      A = at::where(g.constant, at::zeros_like(A), A);
      gs.zero_variance_groups = g.constant.to(at::kFloat).div(g.size).sum().round().item<int64_t>();
      advantages = A.unsqueeze(1) * mask;
      returns = advantages;
      whitened = o.whiten_advantages ? masked_whiten(advantages, lmask) : advantages;
      break;
    }
    default: {  // REINFORCE_PP, REINFORCE_PP_BASELINE
      auto per_token = rewards;
      if (a.estimator == R4J_ESTIMATOR_REINFORCE_PP_BASELINE) {
        auto score = r.field(R4J_FIELD_SCORES_SHAPED);      // [B]
        auto g = group_stats(score, group_ids(r));
        gs.groups = g.groups;
        gs.zero_variance_groups = g.constant.to(at::kFloat).div(g.size).sum().round().item<int64_t>();
        auto last = mask.sum(1).to(at::kLong).sub(1).unsqueeze(1);  // [B, 1]
        per_token = rewards.scatter_add(1, last, (-g.mean).unsqueeze(1));
      }
      returns = gae(per_token, at::zeros_like(per_token), o.gamma, 1.0) * mask;
      advantages = returns;
      whitened = masked_whiten(advantages, lmask);
      break;
    }
  }

  r.field(R4J_FIELD_ADVANTAGES) = advantages;
  r.field(R4J_FIELD_RETURNS) = returns;
  r.field(R4J_FIELD_ADVANTAGES_WHITENED) = whitened;

  r4j_advantage_stats s{};
  s.returns_mean = masked_mean(returns, mask).item<double>();
  s.returns_var = masked_var(returns, mask).item<double>();
  s.advantages_mean = masked_mean(advantages, mask).item<double>();
  s.values_mean = masked_mean(values, mask).item<double>();
  s.var_explained = critic ? 1.0 - (masked_var(returns - values, mask) / masked_var(returns, mask)).item<double>() : 0.0;
  s.non_finite = at::isfinite(whitened).all().item<bool>() && at::isfinite(returns).all().item<bool>() ? 0 : 1;
  if (group_out != nullptr) {
    gs.seq_reward_mean = seq_reward.mean().item<double>();
    gs.seq_reward_std = seq_reward.size(0) > 1 ? seq_reward.std().item<double>() : 0.0;
    *group_out = gs;
  }
  return s;
}

}  // namespace r4j
