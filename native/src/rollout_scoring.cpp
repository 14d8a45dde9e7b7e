#include "rollout_scoring.hpp"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "chunked_logprobs.hpp"

namespace r4j {
namespace {

std::atomic<int64_t> scoring_tokens{kScoringTokens};

// A pass's [g, r] values as the rollout's [g, R] rows (zeros past r).
at::Tensor widen(const at::Tensor& v, int64_t R) {
  return v.size(1) == R ? v : at::constant_pad_nd(v, {0, R - v.size(1)});
}

// Writes each pass's [g, r] values into a [B, R] field.
struct Collect {
  at::Tensor out;
  void put(const ScoringPass& pass, const at::Tensor& v, const Rollout& ro) {
    auto wide = widen(v, ro.response_len());
    if (!out.defined()) out = at::zeros({ro.batch(), ro.response_len()}, wide.options());
    out.index_copy_(0, pass.rows, wide);
  }
};

}  // namespace

void set_scoring_tokens(int64_t max_tokens) { scoring_tokens = max_tokens; }

std::vector<ScoringPass> scoring_passes(const Rollout& ro) { return scoring_passes(ro, scoring_tokens); }

std::vector<ScoringPass> scoring_passes(const Rollout& ro, int64_t max_tokens) {
  const int64_t B = ro.batch(), P = ro.query_len(), R = ro.response_len();
  auto long_opts = at::TensorOptions().device(ro.device).dtype(at::kLong);
  auto tokens = ro.tokens(), mask = ro.mask();
  if (max_tokens <= 0 || B == 0 || R == 0) {
    return {ScoringPass{at::arange(B, long_opts), P, R, tokens, mask, at::Tensor()}};
  }
  auto plen_t = ro.query_mask.sum(1).to(at::kCPU).contiguous(), rlen_t = ro.response_mask.sum(1).to(at::kCPU).contiguous();
  const int64_t* plen = plen_t.data_ptr<int64_t>();
  const int64_t* rlen = rlen_t.data_ptr<int64_t>();
  std::vector<int64_t> order(B);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return plen[a] + rlen[a] < plen[b] + rlen[b]; });
  std::vector<ScoringPass> passes;
  auto close = [&](const std::vector<int64_t>& rows, int64_t p, int64_t r) {
    auto idx = at::tensor(rows, long_opts);
    auto cols = [&](const at::Tensor& t) { return t.index_select(0, idx).narrow(1, P - p, p + r); };
    passes.push_back(ScoringPass{idx, p, r, cols(tokens), cols(mask),
                                 ro.response_mask.index_select(0, idx).narrow(1, 0, r)});
  };
  std::vector<int64_t> rows;
  int64_t p = 0, r = 0;
  for (int64_t b : order) {
    // At least one prompt column (its last state predicts the first response token) and one response column.
    const int64_t lp = std::min(P, std::max(plen[b], int64_t{1})), lr = std::min(R, std::max(rlen[b], int64_t{1}));
    if (!rows.empty() && static_cast<int64_t>(rows.size() + 1) * (std::max(p, lp) + std::max(r, lr)) > max_tokens) {
      close(rows, p, r);
      rows.clear();
      p = r = 0;
    }
    rows.push_back(b);
    p = std::max(p, lp);
    r = std::max(r, lr);
  }
  if (!rows.empty()) close(rows, p, r);
  return passes;
}

namespace {

// REF_LOGPROBS and FULL_KL from the heads of ref and policy (null: no KL) over the states
// hidden(tokens, mask, of_policy, first) [g, T - first, d] of each pass, from its first scored column.
template <typename Hidden>
void score_reference_with(const Model& ref, const Model* policy, const Hidden& hidden, Rollout& ro,
                          double temperature) {
  at::NoGradGuard no_grad;
  Collect logp, kl;
  for (const auto& pass : scoring_passes(ro)) {
    // The states at p-1 .. p+r-2 predict the response tokens: [g, r, d], at the real ones [k, d].
    const ScoredPositions scored(pass.only);
    auto states = [&](bool of_policy) {
      return scored.pick(hidden(pass.tokens, pass.mask, of_policy, pass.prompt - 1).narrow(1, 0, pass.response));
    };
    auto targets = scored.pick(pass.tokens.narrow(1, pass.prompt, pass.response));
    auto ref_states = states(false);
    auto s = ref_scores(ref, ref_states, policy, policy ? states(true) : at::Tensor(), targets, temperature);
    logp.put(pass, scored.spread(s.ref_logprobs), ro);
    if (policy) kl.put(pass, scored.spread(s.full_kl), ro);
  }
  auto rmask = ro.response_mask.to(at::kFloat);
  ro.field(R4J_FIELD_REF_LOGPROBS) = logp.out * rmask;
  if (policy) ro.field(R4J_FIELD_FULL_KL) = kl.out * rmask;
}

}  // namespace

void score_reference(Model& ref, Model* policy, Rollout& ro, double temperature) {
  auto hidden = [&](const at::Tensor& tokens, const at::Tensor& mask, bool of_policy, int64_t first) {
    return (of_policy ? *policy : ref).hidden(tokens, positions_from_mask(mask), mask, nullptr, first);
  };
  score_reference_with(ref, policy, hidden, ro, temperature);
}

void score_reference_base(Model& policy, Rollout& ro, double temperature, bool full_kl) {
  const bool was_enabled = policy.adapters_enabled();
  auto hidden = [&](const at::Tensor& tokens, const at::Tensor& mask, bool of_policy, int64_t first) {
    struct Restore {  // the adapters as they were, also when hidden() throws
      Model& m;
      bool on;
      ~Restore() { m.set_adapters_enabled(on); }
    } restore{policy, was_enabled};
    policy.set_adapters_enabled(of_policy);
    return policy.hidden(tokens, positions_from_mask(mask), mask, nullptr, first);
  };
  score_reference_with(policy, full_kl ? &policy : nullptr, hidden, ro, temperature);
}

void score_old(Model& model, Rollout& ro, ScoreRequest request) {
  at::NoGradGuard no_grad;
  Collect logp, values;
  for (const auto& pass : scoring_passes(ro)) {
    request.only = pass.only;
    auto s = score_tokens(model, pass.tokens, pass.mask, pass.prompt, pass.response, request);
    if (request.logprobs) logp.put(pass, s.logprobs, ro);
    if (request.values) values.put(pass, s.values, ro);
  }
  auto rmask = ro.response_mask.to(at::kFloat);
  if (request.logprobs) {
    keep_sampling_logprobs(ro);
    ro.floats[R4J_FIELD_OLD_LOGPROBS] = (logp.out * rmask).contiguous();
  }
  if (request.values) ro.floats[R4J_FIELD_OLD_VALUES] = (values.out * rmask).contiguous();
}

void score_rewards(Model& reward_model, Rollout& ro) {
  at::NoGradGuard no_grad;
  at::Tensor scores;
  for (const auto& pass : scoring_passes(ro)) {
    auto s = reward_scores(reward_model, pass.tokens, pass.mask);  // [g]
    if (!scores.defined()) scores = at::zeros({ro.batch()}, s.options());
    scores.index_copy_(0, pass.rows, s);
  }
  ro.field(R4J_FIELD_SCORES) = scores;
}

}  // namespace r4j
