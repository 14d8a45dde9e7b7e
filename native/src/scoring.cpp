#include "scoring.hpp"

#include <optional>

#include "chunked_logprobs.hpp"
#include "errors.hpp"

namespace r4j {

at::Tensor positions_from_mask(const at::Tensor& mask) {
  return mask.to(at::kLong).cumsum(1).sub(1).clamp_min(0);
}

ScoredPositions::ScoredPositions(const at::Tensor& only) {
  if (!only.defined()) return;
  B_ = only.size(0);
  n_ = only.size(1);
  index_ = only.reshape({-1}).nonzero().squeeze(1);
}

at::Tensor ScoredPositions::pick(const at::Tensor& t) const {
  return index_.defined() ? t.flatten(0, 1).index_select(0, index_) : t;
}

at::Tensor ScoredPositions::spread(const at::Tensor& values) const {
  if (!index_.defined() || !values.defined()) return values;
  return at::zeros({B_ * n_}, values.options()).index_copy(0, index_, values).view({B_, n_});
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
  const ScoredPositions scored(request.only);
  states = scored.pick(states);                        // [k, d] with request.only
  auto targets = scored.pick(tokens.narrow(1, start, n));
  TokenScores out;
  if (request.logprobs || request.entropy) {
    HeadLoss loss;
    if (request.loss) loss = [&](const at::Tensor& logprobs, const at::Tensor& entropy) {
      return request.loss(TokenScores{scored.spread(logprobs), scored.spread(entropy), {}});
    };
    auto head =
        head_logprobs(model, states, targets, request.temperature, request.entropy, request.entropy_grad, loss);
    out.logprobs = scored.spread(head.logprobs);
    out.entropy = scored.spread(head.entropy);
  }
  if (request.values) out.values = scored.spread(model.value(states));  // [B, n]
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
