// Returns and advantages, over action tokens only (the response's tokens, less
// a multi-turn episode's observation tokens: see R4J_FIELD_ACTION_MASK). The estimator is a row of
// kEstimators keyed by r4j_algo_options.estimator; r[i] below is sample i's sequence reward,
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

// A[t] = rewards[t] + gamma * V[t'] - V[t] + gamma * lam * A[t'], [B, R], where t'
// is the next action token after t (mask [B, R]): observation tokens between
// two turns are no time steps, so the recursion passes through them (verl's
// multi-turn GAE). On a contiguous mask this is the textbook recursion, with
// padding reading as V = A = 0.
at::Tensor gae(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
               double lam) {
  const int64_t B = rewards.size(0), R = rewards.size(1);
  auto advantages = at::zeros_like(rewards);
  auto last_gae = at::zeros({B}, rewards.options());
  auto next_value = at::zeros({B}, rewards.options());
  for (int64_t t = R - 1; t >= 0; --t) {
    auto action = mask.select(1, t).gt(0);                    // [B]
    auto delta = rewards.select(1, t) + gamma * next_value - values.select(1, t);
    last_gae = at::where(action, delta + gamma * lam * last_gae, last_gae);
    advantages.select(1, t).copy_(last_gae);
    next_value = at::where(action, values.select(1, t), next_value);
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

namespace {

// What every estimator reads; [B, R] unless noted.
struct Batch {
  Rollout& rollout;
  const r4j_ppo_options& o;
  const r4j_algo_options& a;
  at::Tensor mask;        // action tokens
  at::Tensor loss_mask;   // the tokens that count in the loss
  at::Tensor rewards;     // per-token rewards, zero off the mask
  at::Tensor seq_reward;  // [B]: r_i = sum_t rewards[i, t]
  at::Tensor values;      // OLD_VALUES with a critic, else zeros
};

struct Estimate {
  at::Tensor advantages, returns, whitened;
};

Estimate gae_estimate(const Batch& b, r4j_group_stats&) {
  Estimate e;
  e.advantages = gae(b.rewards, b.values, b.mask, b.o.gamma, b.o.lam) * b.mask;
  e.returns = (e.advantages + b.values) * b.mask;
  e.whitened = b.o.whiten_advantages ? masked_whiten(e.advantages, b.loss_mask) : e.advantages;
  return e;
}

// A sequence-level advantage A_i [B] from the statistics of i's group, put on
// every response token; a constant group gets 0.
template <typename Advantage>
Estimate group_relative(const Batch& b, r4j_group_stats& gs, Advantage advantage) {
  auto g = group_stats(b.seq_reward, group_ids(b.rollout));
  gs.groups = g.groups;
  at::Tensor A = advantage(g);                              // [B]
  A = at::where(g.constant, at::zeros_like(A), A);
  gs.zero_variance_groups = g.constant.to(at::kFloat).div(g.size).sum().round().item<int64_t>();
  Estimate e;
  e.advantages = A.unsqueeze(1) * b.mask;
  e.returns = e.advantages;
  e.whitened = b.o.whiten_advantages ? masked_whiten(e.advantages, b.loss_mask) : e.advantages;
  return e;
}

Estimate grpo_estimate(const Batch& b, r4j_group_stats& gs) {
  return group_relative(b, gs, [&](const GroupStats& g) {
    auto centered = b.seq_reward - g.mean;
    switch (b.a.scale_rewards) {
      case R4J_SCALE_GROUP: return centered / (g.std + 1e-4);
      case R4J_SCALE_BATCH: return centered / (batch_std(b.seq_reward) + 1e-4);
      case R4J_SCALE_NONE: return centered;
    }
    fail(R4J_ERR_INVALID_ARGUMENT, "unknown scale_rewards " + std::to_string(b.a.scale_rewards) + " (R4J_SCALE_*)");
  });
}

Estimate rloo_estimate(const Batch& b, r4j_group_stats& gs) {
  return group_relative(b, gs, [&](const GroupStats& g) {
    require(g.size.min().item<double>() >= 2, "rloo needs at least 2 samples per group (generation.num_samples)");
    return b.seq_reward - (g.mean * g.size - b.seq_reward) / (g.size - 1);
  });
}

// returns[t] = sum_{j>=t} gamma^(j-t) per_token[j], whitened over the batch's loss tokens.
Estimate reward_to_go(const Batch& b, const at::Tensor& per_token) {
  Estimate e;
  e.returns = gae(per_token, at::zeros_like(per_token), b.mask, b.o.gamma, 1.0) * b.mask;
  e.advantages = e.returns;
  e.whitened = masked_whiten(e.advantages, b.loss_mask);
  return e;
}

Estimate reinforce_pp_estimate(const Batch& b, r4j_group_stats&) { return reward_to_go(b, b.rewards); }

Estimate reinforce_pp_baseline_estimate(const Batch& b, r4j_group_stats& gs) {
  auto score = b.rollout.field(R4J_FIELD_SCORES_SHAPED);    // [B]
  auto g = group_stats(score, group_ids(b.rollout));
  gs.groups = g.groups;
  gs.zero_variance_groups = g.constant.to(at::kFloat).div(g.size).sum().round().item<int64_t>();
  return reward_to_go(b, b.rewards.scatter_add(1, last_token(b.mask), (-g.mean).unsqueeze(1)));
}

// The estimators by R4J_ESTIMATOR_* (verl's registry of advantage estimators):
// adding one is a row here, its #define in rlhf4j.h and its Java enum constant.
struct EstimatorEntry {
  int32_t code;
  const char* name;
  Estimate (*estimate)(const Batch&, r4j_group_stats&);
  bool critic;  // learns a value head (GAE); the others are critic-free
};

constexpr EstimatorEntry kEstimators[] = {
    {R4J_ESTIMATOR_GAE, "gae", gae_estimate, true},
    {R4J_ESTIMATOR_GRPO, "grpo", grpo_estimate, false},
    {R4J_ESTIMATOR_RLOO, "rloo", rloo_estimate, false},
    {R4J_ESTIMATOR_REINFORCE_PP, "reinforce_pp", reinforce_pp_estimate, false},
    {R4J_ESTIMATOR_REINFORCE_PP_BASELINE, "reinforce_pp_baseline", reinforce_pp_baseline_estimate, false},
};

const EstimatorEntry& estimator_entry(int32_t code) {
  std::string known;
  for (const auto& e : kEstimators) {
    if (e.code == code) return e;
    known += (known.empty() ? "" : ", ") + std::string(e.name) + " = " + std::to_string(e.code);
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown advantage estimator " + std::to_string(code) + " (" + known + ")");
}

}  // namespace

void require_estimator(int32_t estimator) { estimator_entry(estimator); }

bool uses_critic(const r4j_algo_options& a) { return estimator_entry(a.estimator).critic; }

r4j_advantage_stats compute_advantages(Rollout& r, const r4j_ppo_options& o, const r4j_algo_options& a,
                                       r4j_group_stats* group_out) {
  require(r.has(R4J_FIELD_REWARDS), "advantages need REWARDS: call r4j_ppo_rewards_ex first");
  const EstimatorEntry& estimator = estimator_entry(a.estimator);
  at::NoGradGuard no_grad;
  auto mask = action_mask(r);                               // [B, R]
  auto lmask = loss_mask(r, a);                             // [B, R]
  auto rewards = r.field(R4J_FIELD_REWARDS) * mask;         // [B, R]
  auto seq_reward = rewards.sum(1);                         // [B]: r_i
  const bool critic = estimator.critic;
  auto values = critic ? r.field(R4J_FIELD_OLD_VALUES) * mask : at::zeros_like(rewards);  // [B, R]

  r4j_group_stats gs{};
  const Estimate e = estimator.estimate(Batch{r, o, a, mask, lmask, rewards, seq_reward, values}, gs);
  const at::Tensor& advantages = e.advantages;
  const at::Tensor& returns = e.returns;
  const at::Tensor& whitened = e.whitened;

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
