// Learning: the PPO objective on one micro-batch (Schulman et al. 2017;
// seed form: no clipping).
//   ratio    = exp(logp - old_logp)
//   pg_loss  = masked_mean(-A * ratio)                                (seed)
//            = masked_mean(max(-A * ratio, -A * clip(ratio, 1-e, 1+e)))  (clip_ratio)
//   vf_loss  = masked_mean((V - returns)^2)                            (seed)
//            = masked_mean(max((V - R)^2, (clip(V, V_old-e, V_old+e) - R)^2))  (clip_value)
//   loss     = pg_loss + vf_coef * vf_loss - ent_coef * entropy
#include <algorithm>
#include <cmath>

#include "../errors.hpp"
#include "../scoring.hpp"
#include "masked.hpp"
#include "ppo.hpp"

namespace r4j {
namespace {

// The rows of a rollout picked for one micro-batch, with the columns that are
// padding in every picked row cropped away (positions come from the mask, so
// cropping changes no result).
struct MicroBatch {
  at::Tensor tokens, mask;  // [n, P' + R']
  int64_t query_len = 0, response_len = 0;
  at::Tensor rmask;         // [n, R'] float
  at::Tensor rows;          // [n] int64
  at::Tensor pick(const at::Tensor& field) const {  // [B, R] -> [n, R']
    return field.index_select(0, rows).narrow(1, 0, response_len);
  }
};

MicroBatch select(const Rollout& r, const at::Tensor& rows) {
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
  mb.rmask = rmask.to(at::kFloat);
  return mb;
}

}  // namespace

PolicyLoss policy_loss(const at::Tensor& logprobs, const at::Tensor& old_logprobs, const at::Tensor& advantages,
                       const at::Tensor& mask, const r4j_ppo_options& o) {
  PolicyLoss out;
  out.log_ratio = (logprobs - old_logprobs) * mask;
  out.ratio = at::exp(out.log_ratio);
  auto pg_losses = -advantages * out.ratio;
  if (o.clip_ratio) {
    auto pg_losses2 = -advantages * at::clamp(out.ratio, 1.0 - o.cliprange, 1.0 + o.cliprange);
    out.loss = masked_mean(at::max(pg_losses, pg_losses2), mask);
    out.clipfrac = masked_mean(pg_losses2.gt(pg_losses).to(at::kFloat), mask);
  } else {
    out.loss = masked_mean(pg_losses, mask);
    out.clipfrac = at::zeros({}, mask.options());
  }
  return out;
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
                              const r4j_ppo_options& o, double loss_scale) {
  for (int32_t f : {R4J_FIELD_ADVANTAGES_WHITENED, R4J_FIELD_RETURNS})
    require(r.has(f), "the PPO loss needs advantages and returns: call r4j_ppo_advantages first");
  const MicroBatch mb = select(r, indices);
  const auto& mask = mb.rmask;                                            // [n, R']
  auto old_logprobs = mb.pick(r.field(R4J_FIELD_OLD_LOGPROBS));
  auto old_values = mb.pick(r.field(R4J_FIELD_OLD_VALUES));
  auto advantages = mb.pick(r.field(R4J_FIELD_ADVANTAGES_WHITENED)).detach();
  auto returns = mb.pick(r.field(R4J_FIELD_RETURNS)).detach();

  ScoreRequest req;
  req.temperature = o.temperature;
  req.entropy = true;
  req.entropy_grad = o.ent_coef > 0;
  req.values = critic == nullptr;
  auto s = score_tokens(actor, mb.tokens, mb.mask, mb.query_len, mb.response_len, req);
  auto values = critic ? score_tokens(*critic, mb.tokens, mb.mask, mb.query_len, mb.response_len,
                                      ScoreRequest{1.0, false, false, true, false}).values
                       : s.values;                                       // [n, R']

  auto pg = policy_loss(s.logprobs, old_logprobs, advantages, mask, o);
  auto vf = value_loss(values, old_values, returns, mask, o);
  auto entropy = masked_mean(s.entropy, mask);
  auto loss = pg.loss + o.vf_coef * vf.loss - o.ent_coef * entropy;

  r4j_ppo_stats st{};
  st.loss_total = loss.item<double>();
  st.non_finite = std::isfinite(st.loss_total) ? 0 : 1;
  // Without grad mode (evaluation) there is nothing to accumulate.
  if (!st.non_finite && at::GradMode::is_enabled()) (loss * loss_scale).backward();

  at::NoGradGuard no_grad;
  st.loss_policy = pg.loss.item<double>();
  st.loss_value = vf.loss.item<double>();
  st.entropy = entropy.item<double>();
  st.approxkl = (0.5 * masked_mean(pg.log_ratio.pow(2), mask)).item<double>();
  st.policy_clipfrac = pg.clipfrac.item<double>();
  st.ratio_mean = masked_mean(pg.ratio, mask).item<double>();
  st.ratio_var = masked_var(pg.ratio, mask, /*unbiased=*/false).item<double>();
  st.value_clipfrac = vf.clipfrac.item<double>();
  st.vpred = masked_mean(values, mask).item<double>();
  st.n_tokens = mask.sum().item<int64_t>();
  return st;
}

}  // namespace r4j
