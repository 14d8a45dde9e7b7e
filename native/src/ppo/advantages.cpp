// Returns and advantages by generalized advantage estimation
// (Schulman et al. 2016), over response tokens only:
//   delta[t] = r[t] + gamma * V[t+1] - V[t]        (V past the end = 0)
//   A[t]     = delta[t] + gamma * lambda * A[t+1]
//   returns  = A + V
// gamma = lambda = 1 gives the seed's returns[t] = sum_{j>=t} r[j] and
// A[t] = returns[t] - V[t]. Advantages are data, never differentiated.
#include "../errors.hpp"
#include "masked.hpp"
#include "ppo.hpp"

namespace r4j {

r4j_advantage_stats compute_advantages(Rollout& r, const r4j_ppo_options& o) {
  require(r.has(R4J_FIELD_REWARDS), "advantages need REWARDS: call r4j_ppo_rewards first");
  at::NoGradGuard no_grad;
  auto mask = r.response_mask.to(at::kFloat);               // [B, R]
  auto rewards = r.field(R4J_FIELD_REWARDS) * mask;         // [B, R]
  auto values = r.field(R4J_FIELD_OLD_VALUES) * mask;       // [B, R]
  const int64_t B = rewards.size(0), R = rewards.size(1);

  auto advantages = at::zeros_like(rewards);
  auto last_gae = at::zeros({B}, rewards.options());
  auto next_value = at::zeros({B}, rewards.options());
  for (int64_t t = R - 1; t >= 0; --t) {
    auto delta = rewards.select(1, t) + o.gamma * next_value - values.select(1, t);
    last_gae = delta + o.gamma * o.lam * last_gae;
    advantages.select(1, t).copy_(last_gae);
    next_value = values.select(1, t);
  }
  advantages = advantages * mask;
  auto returns = (advantages + values) * mask;
  auto whitened = o.whiten_advantages ? masked_whiten(advantages, mask) : advantages;

  r.field(R4J_FIELD_ADVANTAGES) = advantages;
  r.field(R4J_FIELD_RETURNS) = returns;
  r.field(R4J_FIELD_ADVANTAGES_WHITENED) = whitened;

  r4j_advantage_stats s{};
  s.returns_mean = masked_mean(returns, mask).item<double>();
  s.returns_var = masked_var(returns, mask).item<double>();
  s.advantages_mean = masked_mean(advantages, mask).item<double>();
  s.values_mean = masked_mean(values, mask).item<double>();
  s.var_explained = 1.0 - (masked_var(returns - values, mask) / masked_var(returns, mask)).item<double>();
  s.non_finite = at::isfinite(whitened).all().item<bool>() && at::isfinite(returns).all().item<bool>() ? 0 : 1;
  return s;
}

}  // namespace r4j
