#include "supervised.hpp"

#include "errors.hpp"
#include "scoring.hpp"

namespace r4j {

at::Tensor lm_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask,
                   double backward_scale) {
  const int64_t T = tokens.size(1);
  require(T >= 2, "the LM loss needs sequences of at least 2 tokens");
  auto predicted = loss_mask.narrow(1, 1, T - 1).logical_and(mask.narrow(1, 1, T - 1));  // [B, T-1] bool
  auto weights = predicted.to(at::kFloat);
  require(weights.sum().item<double>() > 0, "loss_mask selects no real token after the first position");
  // The loss from the log-probs [B, T-1] (0 where not predicted); the head may evaluate it in
  // forward, and the same function builds the loss returned, so the gradients are bitwise
  // those it was told. The head sees only the predicted positions.
  auto nll = [&](const at::Tensor& logp) { return -(logp * weights).sum() / weights.sum(); };
  ScoreRequest request;
  request.only = predicted;
  if (backward_scale > 0 && at::GradMode::is_enabled())
    request.loss = [&](const TokenScores& s) { return nll(s.logprobs) * backward_scale; };
  const auto passes = sequence_passes(model, at::constant_pad_nd(predicted, {1, 0}));
  auto s = score_tokens(model, tokens, mask, 1, T - 1, request, passes);
  return nll(s.logprobs);
}

PairwiseLoss rm_loss(Model& model, const at::Tensor& chosen, const at::Tensor& chosen_mask,
                     const at::Tensor& rejected, const at::Tensor& rejected_mask) {
  require(chosen_mask.any(1).all().item<bool>() && rejected_mask.any(1).all().item<bool>(),
          "every chosen and rejected sequence needs at least one real token");
  // One forward over both sides: [2B, T].
  auto tokens = at::cat({chosen, rejected}, 0);
  auto mask = at::cat({chosen_mask, rejected_mask}, 0);
  auto r = reward_scores(model, tokens, mask);  // [2B]
  const int64_t B = chosen.size(0);
  auto margin = r.narrow(0, 0, B) - r.narrow(0, B, B);
  return {-at::log_sigmoid(margin).mean(), margin.gt(0).to(at::kFloat).mean()};
}

}  // namespace r4j
