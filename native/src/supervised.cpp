#include "supervised.hpp"

#include "chunked_logprobs.hpp"
#include "errors.hpp"
#include "scoring.hpp"

namespace r4j {

at::Tensor lm_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask,
                   double backward_scale) {
  const int64_t T = tokens.size(1);
  require(T >= 2, "the LM loss needs sequences of at least 2 tokens");
  auto predicted = loss_mask.narrow(1, 1, T - 1).logical_and(mask.narrow(1, 1, T - 1)).to(at::kFloat);
  require(predicted.sum().item<double>() > 0, "loss_mask selects no real token after the first position");
  Model::HeadInLoss head(model);
  auto h = model.hidden(tokens, positions_from_mask(mask), mask, nullptr);        // [B, T, d]
  // The loss from the log-probs [B, T-1]; the head may evaluate it in forward, and the
  // same function builds the loss returned, so the gradients are bitwise those it was told.
  auto nll = [&](const at::Tensor& logp) { return -(logp * predicted).sum() / predicted.sum(); };
  HeadLoss told;
  if (backward_scale > 0 && at::GradMode::is_enabled())
    told = [&](const at::Tensor& logp, const at::Tensor&) { return nll(logp) * backward_scale; };
  auto logp = head_logprobs(model, h.narrow(1, 0, T - 1), tokens.narrow(1, 1, T - 1), 1.0, false, false, told)
                  .logprobs;                                                       // [B, T-1]
  return nll(logp);
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
