#include "scoring.hpp"

#include <optional>

#include "chunked_logprobs.hpp"
#include "errors.hpp"

namespace r4j {

at::Tensor positions_from_mask(const at::Tensor& mask) {
  return mask.to(at::kLong).cumsum(1).sub(1).clamp_min(0);
}

at::Tensor flat_positions(const at::Tensor& only) { return only.reshape({-1}).nonzero().squeeze(1); }

at::Tensor gather_positions(const at::Tensor& states, const at::Tensor& positions) {
  return states.reshape({-1, states.size(-1)}).index_select(0, positions);
}

at::Tensor spread_positions(const at::Tensor& values, const at::Tensor& positions, int64_t B, int64_t n) {
  return at::zeros({B * n}, values.options()).index_copy(0, positions, values).view({B, n});
}

TokenScores score_tokens(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start,
                         int64_t n, const ScoreRequest& request) {
  require(start >= 1 && start + n <= tokens.size(1), "score_tokens: scored window out of range");
  std::optional<Model::HeadInLoss> head;
  if (request.logprobs || request.entropy) head.emplace(model);
  auto h = model.hidden(tokens, positions_from_mask(mask), mask, nullptr);  // [B, T, d]
  // The state at position t-1 predicts token t: only those states go through
  // the heads (the LM head is the largest matmul of the model).
  auto states = h.narrow(1, start - 1, n);             // [B, n, d]
  auto targets = tokens.narrow(1, start, n);           // [B, n]
  at::Tensor positions;                                // [k] with request.only
  auto spread = [&](const at::Tensor& v) {
    return !positions.defined() || !v.defined() ? v : spread_positions(v, positions, tokens.size(0), n);
  };
  if (request.only.defined()) {
    positions = flat_positions(request.only);
    states = gather_positions(states, positions);        // [k, d]
    targets = targets.reshape({-1}).index_select(0, positions);
  }
  TokenScores out;
  if (request.logprobs || request.entropy) {
    auto head = head_logprobs(model, states, targets, request.temperature, request.entropy, request.entropy_grad);
    out.logprobs = spread(head.logprobs);
    out.entropy = spread(head.entropy);
  }
  if (request.values) out.values = spread(model.value(states));  // [B, n]
  return out;
}

at::Tensor reward_scores(Model& model, const at::Tensor& tokens, const at::Tensor& mask) {
  auto h = model.hidden(tokens, positions_from_mask(mask), mask, nullptr);  // [B, T, d]
  // Index of the last real token of each row, wherever the padding sits.
  auto idx = at::arange(tokens.size(1), tokens.options()).unsqueeze(0).expand_as(tokens);
  auto last = at::where(mask, idx, at::zeros_like(idx)).amax(1);            // [B]
  auto at_last = last.view({-1, 1, 1}).expand({h.size(0), 1, h.size(2)});
  return model.reward(h.gather(1, at_last).squeeze(1));                    // [B]
}

}  // namespace r4j
