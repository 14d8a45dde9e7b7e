#include "dpo/dpo.hpp"

#include <cmath>
#include <string>

#include "errors.hpp"
#include "scoring.hpp"

namespace r4j {

SequenceLogps sequence_logps(Model& model, const at::Tensor& tokens, const at::Tensor& mask,
                             const at::Tensor& loss_mask) {
  const int64_t T = tokens.size(1);
  require(T >= 2, "a completion needs sequences of at least 2 tokens");
  auto target = loss_mask.narrow(1, 1, T - 1).logical_and(mask.narrow(1, 1, T - 1));  // [R, T-1]
  // The heads see only the completion's tokens; rows of like length run in passes of their own.
  ScoreRequest request;
  request.only = target;
  request.mean_logits = true;
  const auto passes = sequence_passes(model, at::constant_pad_nd(target, {1, 0}));
  auto s = score_tokens(model, tokens, mask, 1, T - 1, request, passes);  // [R, T-1] each
  auto w = target.to(s.logprobs.scalar_type());
  SequenceLogps out;
  out.logps = (s.logprobs * w).sum(1);
  out.tokens = target.sum(1);
  out.logit_sums = (s.mean_logits.to(w.scalar_type()) * w).sum(1);
  return out;
}

DpoLoss dpo_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask,
                 const at::Tensor& ref_logps, const r4j_dpo_options& o) {
  validate(o);
  const int64_t R = tokens.size(0);
  require(R >= 2 && R % 2 == 0, "a DPO batch is B chosen rows then B rejected rows; got " + std::to_string(R));
  const int64_t B = R / 2;
  const bool with_ref = ref_logps.defined();
  require(with_ref || !needs_reference(o), "these DPO losses need the reference's log-probs (ref_logps is NULL)");
  auto s = sequence_logps(model, tokens, mask, loss_mask);
  require(s.tokens.gt(0).all().item<bool>(), "every chosen and rejected completion needs at least one token");
  auto lens = s.tokens.to(s.logps.scalar_type());
  auto ref = with_ref ? ref_logps.to(s.logps.options()).view({R}) : at::zeros({R}, s.logps.options());

  PairLogps p{s.logps.narrow(0, 0, B), s.logps.narrow(0, B, B), ref.narrow(0, 0, B),
              ref.narrow(0, B, B),     lens.narrow(0, 0, B),    lens.narrow(0, B, B)};
  DpoLoss out = dpo_objective(p, with_ref, o);
  out.logps = s.logps.detach();
  auto& st = out.stats;
  st.logits_chosen = s.logit_sums.narrow(0, 0, B).sum().item<double>();
  st.logits_rejected = s.logit_sums.narrow(0, B, B).sum().item<double>();
  st.tokens_chosen = s.tokens.narrow(0, 0, B).sum().item<int64_t>();
  st.tokens_rejected = s.tokens.narrow(0, B, B).sum().item<int64_t>();
  st.num_tokens = mask.sum().item<int64_t>();
  return out;
}

DpoLoss dpo_objective(const PairLogps& p, bool with_reference, const r4j_dpo_options& o) {
  // loss = sum_k w_k mean_B(loss_k) (+ RPO: alpha times the NLL per chosen token)
  auto loss = at::zeros({}, p.chosen.options());
  for (int32_t k = 0; k < o.n_losses; ++k) loss = loss + o.loss_weights[k] * dpo_loss_fn(o.loss_types[k])(p, o).mean();
  auto nll = -p.chosen.sum() / p.chosen_len.sum();
  if (o.rpo_alpha > 0) loss = loss + o.rpo_alpha * nll;

  DpoLoss out;
  out.loss = loss;
  at::NoGradGuard no_grad;
  auto rc = with_reference ? o.beta * (p.chosen - p.ref_chosen) : o.beta * p.chosen / p.chosen_len;
  auto rr = with_reference ? o.beta * (p.rejected - p.ref_rejected) : o.beta * p.rejected / p.rejected_len;
  auto& st = out.stats;
  st = {};
  st.loss = loss.item<double>();
  st.chosen_rewards = rc.sum().item<double>();
  st.rejected_rewards = rr.sum().item<double>();
  st.accuracies = rc.gt(rr).sum().item<double>();
  st.margins = (rc - rr).sum().item<double>();
  st.logps_chosen = p.chosen.sum().item<double>();
  st.logps_rejected = p.rejected.sum().item<double>();
  st.nll = nll.item<double>();
  st.pairs = p.chosen.size(0);
  return out;
}

}  // namespace r4j
