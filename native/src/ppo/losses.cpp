// Learning: the PPO objective on one micro-batch (Schulman et al. 2017;
// seed form: no clipping).
//   ratio    = exp(logp - old_logp)
//   pg_loss  = masked_mean(-A * ratio)                                (seed)
//            = masked_mean(max(-A * ratio, -A * clip(ratio, 1-e, 1+e)))  (clip_ratio)
//   vf_loss  = masked_mean((V - returns)^2)                            (seed)
//            = masked_mean(max((V - R)^2, (clip(V, V_old-e, V_old+e) - R)^2))  (clip_value)
//   loss     = pg_loss + vf_coef * vf_loss - ent_coef * entropy
// The algorithm's switches (r4j_algo_options) on the per-token pg_loss_t:
//   clip(ratio, 1 - e_low, 1 + e_high)            asymmetric clip ("clip-higher", DAPO: 0.2 / 0.28)
//   where A < 0: min(pg_loss_t, -A * c)          dual clip (Ye et al. 2020, c = 3)
//   ratio_i = exp(mean_t (logp - old_logp))        sequence-level ratio (GSPO, Zheng et al. 2025)
//   loss_t += beta * KL_t(pi || ref)               KL in the loss (GRPO), KL_t with
//     k1 = logp - ref,  k2 = (logp - ref)^2 / 2,  k3 = exp(ref - logp) - (ref - logp) - 1,
//     k3+ = k3's value with k2's gradient:  k2 + stop_gradient(k3 - k2)
// and the aggregation of loss_t [n, R] over the loss mask m:
//   token_mean              sum(loss * m) / sum(m)
//   seq_mean_token_mean     mean_i (sum_t loss * m / sum_t m)
//   seq_mean_token_sum      mean_i (sum_t loss * m)
//   seq_mean_token_sum_norm mean_i (sum_t loss * m) / L_max   (Dr. GRPO)
// where pg_loss_t is first multiplied by the rollout's POLICY_LOSS_WEIGHTS when written
// (the rollout correction's importance weight w_t: token or sequence, truncated or masked);
// over one micro-batch; the caller's loss_scale (the micro-batch's share of
// the minibatch's tokens or samples) makes it a minibatch-wide mean.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "../errors.hpp"
#include "../scoring.hpp"
#include "masked.hpp"
#include "ppo.hpp"

namespace r4j {
namespace {

// The rows of a rollout picked for one micro-batch, with the columns that are
// padding in every picked row cropped away (positions come from the mask, so
// cropping changes no result), run as passes of like length where that saves
// positions (length_groups.hpp).
struct MicroBatch {
  at::Tensor tokens, mask;  // [n, P' + R']
  int64_t query_len = 0, response_len = 0;
  at::Tensor rmask;         // [n, R'] float: the picked rows' action tokens
  at::Tensor rows;          // [n] int64
  std::vector<TokenPass> passes;  // empty: one pass over all n rows
  at::Tensor real() const { return mask.narrow(1, query_len, response_len); }  // [n, R'] bool: heads see only these
  at::Tensor pick(const at::Tensor& field) const {  // [B, R] -> [n, R']
    return field.index_select(0, rows).narrow(1, 0, response_len);
  }
  TokenScores score(Model& model, const ScoreRequest& request) const {
    return score_tokens(model, tokens, mask, query_len, response_len, request, passes);
  }
};

// Each row's prompt and response tokens [n], at least one of each as the crop keeps.
std::pair<at::Tensor, at::Tensor> row_lengths(const Rollout& r, const at::Tensor& rows) {
  return {r.query_mask.index_select(0, rows).sum(1).clamp_min(1),
          r.response_mask.index_select(0, rows).sum(1).clamp_min(1)};
}

MicroBatch select(const Model& actor, const Rollout& r, const at::Tensor& rows) {
  MicroBatch mb;
  mb.rows = rows;
  auto qmask = r.query_mask.index_select(0, rows);       // [n, P]
  auto rmask = r.response_mask.index_select(0, rows);    // [n, R]
  const int64_t P = r.query_len();
  const int64_t longest_query = qmask.sum(1).max().item<int64_t>();
  const int64_t longest_response = std::max<int64_t>(1, rmask.sum(1).max().item<int64_t>());
  auto q = r.query_tokens.index_select(0, rows).narrow(1, P - longest_query, longest_query);
  auto resp = r.response_tokens.index_select(0, rows).narrow(1, 0, longest_response);
  qmask = qmask.narrow(1, P - longest_query, longest_query);
  rmask = rmask.narrow(1, 0, longest_response);
  mb.tokens = at::cat({q, resp}, 1);
  mb.mask = at::cat({qmask, rmask}, 1);
  mb.query_len = longest_query;
  mb.response_len = longest_response;
  mb.rmask = mb.pick(action_mask(r));
  const auto [prompt, response] = row_lengths(r, rows);
  mb.passes = like_length_passes(actor, prompt, response);
  return mb;
}

// The importance ratio of each policy-loss variant, [n, R], from the per-token
// log-ratio (zero off the mask).
at::Tensor token_ratio(const at::Tensor& log_ratio, const at::Tensor&) { return at::exp(log_ratio); }

at::Tensor sequence_ratio(const at::Tensor& log_ratio, const at::Tensor& mask) {
  auto seq = log_ratio.sum(1) / mask.sum(1).clamp_min(1);  // [n]
  return at::exp(seq.unsqueeze(1).expand_as(log_ratio));
}

// The policy-loss variants by R4J_IS_* (verl's registry of policy losses: PPO's
// per-token ratio, GSPO's per-sequence one); clipping and the dual clip follow alike.
struct PolicyLossEntry {
  int32_t code;
  const char* name;
  at::Tensor (*ratio)(const at::Tensor& log_ratio, const at::Tensor& mask);
};

constexpr PolicyLossEntry kPolicyLosses[] = {
    {R4J_IS_TOKEN, "token (PPO)", token_ratio},
    {R4J_IS_SEQUENCE, "sequence (GSPO)", sequence_ratio},
};

const PolicyLossEntry& policy_loss_entry(int32_t code) {
  std::string known;
  for (const auto& e : kPolicyLosses) {
    if (e.code == code) return e;
    known += (known.empty() ? "" : ", ") + std::string(e.name) + " = " + std::to_string(e.code);
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown importance_sampling " + std::to_string(code) + " (" + known + ")");
}

}  // namespace

int64_t micro_batch_positions(const Model& actor, const Rollout& r, const at::Tensor& rows) {
  int64_t positions = 0;
  const auto [prompt, response] = row_lengths(r, rows);
  for (const auto& g : like_length_groups(actor, prompt, response)) positions += g.positions();
  return positions;
}

void require_policy_loss(int32_t importance_sampling) { policy_loss_entry(importance_sampling); }

PolicyLossTokens policy_loss_tokens(const at::Tensor& logprobs, const at::Tensor& old_logprobs,
                                    const at::Tensor& advantages, const at::Tensor& mask, const r4j_ppo_options& o,
                                    const r4j_algo_options& a) {
  const PolicyLossEntry& variant = policy_loss_entry(a.importance_sampling);
  PolicyLossTokens out;
  out.log_ratio = (logprobs - old_logprobs) * mask;                       // [n, R]
  out.ratio = variant.ratio(out.log_ratio, mask);
  auto pg_losses = -advantages * out.ratio;
  out.clipped = at::zeros_like(mask);
  out.dual_clipped = at::zeros_like(mask);
  if (o.clip_ratio) {
    const double low = a.cliprange_low > 0 ? a.cliprange_low : o.cliprange;
    const double high = a.cliprange_high > 0 ? a.cliprange_high : o.cliprange;
    auto pg_losses2 = -advantages * at::clamp(out.ratio, 1.0 - low, 1.0 + high);
    out.clipped = pg_losses2.gt(pg_losses).to(at::kFloat) * mask;
    pg_losses = at::max(pg_losses, pg_losses2);
  }
  if (a.dual_clip > 0) {
    auto pg_losses3 = -advantages * a.dual_clip;
    auto negative = advantages.lt(0);
    out.dual_clipped = (negative & pg_losses3.lt(pg_losses)).to(at::kFloat) * mask;
    pg_losses = at::where(negative, at::min(pg_losses, pg_losses3), pg_losses);
  }
  out.pg_losses = pg_losses * mask;
  return out;
}

at::Tensor kl_loss_tokens(const at::Tensor& logprobs, const at::Tensor& ref_logprobs, int32_t estimator) {
  auto log_ratio = logprobs - ref_logprobs;                 // log(pi / pi_ref)
  auto k2 = 0.5 * log_ratio.pow(2);
  auto k3 = at::exp(-log_ratio) + log_ratio - 1;
  switch (estimator) {
    case R4J_KL_LOSS_K1: return log_ratio;
    case R4J_KL_LOSS_K2: return k2;
    case R4J_KL_LOSS_K3: return k3;
    case R4J_KL_LOSS_K3_PLUS: return k2 + (k3 - k2).detach();
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown kl_loss_estimator " + std::to_string(estimator) + " (R4J_KL_LOSS_*)");
}

at::Tensor aggregate_loss(const at::Tensor& losses, const at::Tensor& mask, int32_t mode, int64_t max_new_tokens) {
  auto sums = (losses * mask).sum(1);                       // [n]: per-sequence token sums
  switch (mode) {
    case R4J_LOSS_TOKEN_MEAN: return sums.sum() / mask.sum().clamp_min(1);
    case R4J_LOSS_SEQ_MEAN_TOKEN_MEAN: return (sums / mask.sum(1).clamp_min(1)).mean();
    case R4J_LOSS_SEQ_MEAN_TOKEN_SUM: return sums.mean();
    case R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM: return sums.mean() / static_cast<double>(max_new_tokens);
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown loss_agg " + std::to_string(mode) + " (R4J_LOSS_*)");
}

ValueLoss value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                     const at::Tensor& mask, const r4j_ppo_options& o) {
  ValueLoss out;
  auto vf_losses = (values - returns).pow(2);
  if (o.clip_value) {
    auto vpred_clipped = at::clamp(values, old_values - o.cliprange_value, old_values + o.cliprange_value);
    auto vf_losses2 = (vpred_clipped - returns).pow(2);
    out.loss = masked_mean(at::max(vf_losses, vf_losses2), mask);
    out.clipfrac = masked_mean(vf_losses2.gt(vf_losses).to(at::kFloat), mask);
  } else {
    out.loss = masked_mean(vf_losses, mask);
    out.clipfrac = at::zeros({}, mask.options());
  }
  return out;
}

r4j_ppo_stats accumulate_loss(Model& actor, Model* critic, Rollout& r, const at::Tensor& indices,
                              const r4j_ppo_options& o, const r4j_algo_options& a, double loss_scale,
                              r4j_algo_loss_stats* algo_out) {
  for (int32_t f : {R4J_FIELD_ADVANTAGES_WHITENED, R4J_FIELD_RETURNS})
    require(r.has(f), "the PPO loss needs advantages and returns: call r4j_ppo_advantages_ex first");
  const bool with_critic = uses_critic(a);
  if (a.kl_in == R4J_KL_IN_LOSS)
    require(r.has(R4J_FIELD_REF_LOGPROBS), "kl_in loss needs REF_LOGPROBS: call r4j_rollout_score_ref first");
  const MicroBatch mb = select(actor, r, indices);
  auto mask = mb.pick(loss_mask(r, a));                                   // [n, R']
  auto old_logprobs = mb.pick(r.field(R4J_FIELD_OLD_LOGPROBS));
  auto advantages = mb.pick(r.field(R4J_FIELD_ADVANTAGES_WHITENED)).detach();

  at::Tensor is_weights;  // the rollout correction's importance weights, if any
  if (r.has(R4J_FIELD_POLICY_LOSS_WEIGHTS)) is_weights = mb.pick(r.field(R4J_FIELD_POLICY_LOSS_WEIGHTS));
  at::Tensor ref_logprobs;
  if (a.kl_in == R4J_KL_IN_LOSS) ref_logprobs = mb.pick(r.field(R4J_FIELD_REF_LOGPROBS));

  // The actor's loss from the head's scores alone. The head may evaluate it in its
  // forward pass (ScoreRequest::loss) to form its gradients there; the loss that is
  // differentiated below is built by the same function, so the gradients it sends
  // the head are bitwise those the head was told.
  struct ActorLoss {
    PolicyLossTokens pg;
    at::Tensor pg_loss, kl_loss, entropy, total;
  };
  auto actor_loss = [&](const TokenScores& s) {
    ActorLoss l;
    l.pg = policy_loss_tokens(s.logprobs, old_logprobs, advantages, mask, o, a);
    // The rollout correction's importance weights (TRL: per_token_loss * importance_sampling_ratio),
    // on the policy term only, as TRL applies them before adding the KL term.
    if (is_weights.defined()) l.pg.pg_losses = l.pg.pg_losses * is_weights;
    l.pg_loss = aggregate_loss(l.pg.pg_losses, mask, a.loss_agg, a.max_new_tokens);
    l.kl_loss = at::zeros({}, mask.options());
    if (ref_logprobs.defined()) {
      auto kl = kl_loss_tokens(s.logprobs, ref_logprobs, a.kl_loss_estimator) * mask;
      l.kl_loss = aggregate_loss(kl, mask, a.loss_agg, a.max_new_tokens);
    }
    l.entropy = aggregate_loss(s.entropy, mask, R4J_LOSS_TOKEN_MEAN, 0);
    l.total = l.pg_loss + a.kl_loss_coef * l.kl_loss - o.ent_coef * l.entropy;
    return l;
  };

  ScoreRequest req;
  req.temperature = o.temperature;
  req.entropy = true;
  req.entropy_grad = o.ent_coef > 0;
  req.values = with_critic && critic == nullptr;
  req.only = mb.real();
  // GSPO's sequence ratio ties a token's gradient to its sequence's other tokens.
  if (at::GradMode::is_enabled() && a.importance_sampling == R4J_IS_TOKEN)
    req.loss = [&](const TokenScores& s) { return actor_loss(s).total * loss_scale; };
  auto s = mb.score(actor, req);

  const ActorLoss actor_terms = actor_loss(s);
  const auto& pg = actor_terms.pg;
  const auto &pg_loss = actor_terms.pg_loss, &kl_loss = actor_terms.kl_loss, &entropy = actor_terms.entropy;
  auto loss = actor_terms.total;
  ValueLoss vf{at::zeros({}, mask.options()), at::zeros({}, mask.options())};
  at::Tensor values = at::zeros_like(mask);
  if (with_critic) {
    auto old_values = mb.pick(r.field(R4J_FIELD_OLD_VALUES));
    auto returns = mb.pick(r.field(R4J_FIELD_RETURNS)).detach();
    ScoreRequest values_only;
    values_only.logprobs = false;
    values_only.values = true;
    values_only.only = mb.real();
    values = critic ? mb.score(*critic, values_only).values : s.values;  // [n, R']
    vf = value_loss(values, old_values, returns, mask.sum().item<double>() > 0 ? mask : mb.rmask, o);
    loss = loss + o.vf_coef * vf.loss;
  }

  r4j_ppo_stats st{};
  st.loss_total = loss.item<double>();
  st.non_finite = std::isfinite(st.loss_total) ? 0 : 1;
  // Without grad mode (evaluation) there is nothing to accumulate.
  if (!st.non_finite && at::GradMode::is_enabled()) (loss * loss_scale).backward();

  at::NoGradGuard no_grad;
  const int64_t tokens = mask.sum().item<int64_t>();
  // Statistics over the loss tokens; a micro-batch of truncated samples only has none.
  const auto& smask = tokens > 0 ? mask : mb.rmask;
  st.loss_policy = pg_loss.item<double>();
  st.loss_value = vf.loss.item<double>();
  st.entropy = entropy.item<double>();
  st.approxkl = (0.5 * masked_mean(pg.log_ratio.pow(2), smask)).item<double>();
  st.policy_clipfrac = tokens > 0 ? masked_mean(pg.clipped, mask).item<double>() : 0.0;
  st.ratio_mean = masked_mean(pg.ratio, smask).item<double>();
  st.ratio_var = masked_var(pg.ratio, smask, /*unbiased=*/false).item<double>();
  st.value_clipfrac = vf.clipfrac.item<double>();
  st.vpred = masked_mean(values, smask).item<double>();
  st.n_tokens = tokens;
  if (algo_out != nullptr) {
    algo_out->kl_loss = kl_loss.item<double>();
    algo_out->dual_clipfrac = tokens > 0 ? masked_mean(pg.dual_clipped, mask).item<double>() : 0.0;
    algo_out->n_sequences = mask.sum(1).gt(0).sum().item<int64_t>();
  }
  return st;
}

}  // namespace r4j
