// The DPO part of the C ABI: summed completion log-probs and the family's losses.
#include <cmath>
#include <memory>

#include "abi_handles.hpp"
#include "dpo/dpo.hpp"

using r4j::fail;
using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

extern "C" {

R4J_API r4j_status r4j_dpo_options_defaults(r4j_dpo_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j_dpo_options{};
    out->n_losses = 1;
    out->loss_types[0] = R4J_DPO_SIGMOID;
    out->loss_weights[0] = 1.0;
    out->beta = 0.1;
    out->label_smoothing = 0.0;
    out->simpo_gamma = 0.5;
    out->rpo_alpha = 0.0;
  });
}

R4J_API r4j_status r4j_sequence_logps(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                                      const uint8_t* loss_mask, int64_t rows, int64_t seq_len, double* out_logps,
                                      int64_t* out_tokens, double* out_logit_sums, size_t cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    require_out(out_logps, "out_logps");
    require_out(out_tokens, "out_tokens");
    r4j::check_batch(rows, seq_len, net);
    if (cap < static_cast<size_t>(rows)) fail(R4J_ERR_BUFFER_TOO_SMALL, "cap is below rows");
    auto tok = r4j::tokens_from(tokens, rows, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, rows, seq_len, net.device(), "attention_mask");
    auto lmask = r4j::mask_from(loss_mask, rows, seq_len, net.device(), "loss_mask");
    at::NoGradGuard no_grad;
    auto s = r4j::sequence_logps(net, tok, mask, lmask);
    auto logps = s.logps.to(at::kCPU, at::kDouble).contiguous();
    if (!at::isfinite(logps).all().item<bool>()) fail(R4J_ERR_NON_FINITE, "a summed log-prob is NaN or Inf");
    auto counts = s.tokens.to(at::kCPU, at::kLong).contiguous();
    std::copy_n(logps.data_ptr<double>(), rows, out_logps);
    std::copy_n(counts.data_ptr<int64_t>(), rows, out_tokens);
    if (out_logit_sums) {
      auto sums = s.logit_sums.to(at::kCPU, at::kDouble).contiguous();
      std::copy_n(sums.data_ptr<double>(), rows, out_logit_sums);
    }
  });
}

R4J_API r4j_status r4j_dpo_loss(r4j_model* model, const int32_t* tokens, const uint8_t* attention_mask,
                                const uint8_t* loss_mask, int64_t pairs, int64_t seq_len, const double* ref_logps,
                                const r4j_dpo_options* options, double loss_scale, int32_t backward,
                                r4j_dpo_stats* out_stats, double* out_logps, size_t logps_cap) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    auto& net = *m->model;
    require(options != nullptr, "options is NULL");
    require_out(out_stats, "out_stats");
    require(pairs >= 1, "pairs must be >= 1");
    require(std::isfinite(loss_scale), "loss_scale must be finite");
    const int64_t rows = 2 * pairs;
    r4j::check_batch(rows, seq_len, net);
    if (out_logps && logps_cap < static_cast<size_t>(rows)) {
      fail(R4J_ERR_BUFFER_TOO_SMALL, "logps_cap is below 2 * pairs");
    }
    auto tok = r4j::tokens_from(tokens, rows, seq_len, net, "tokens");
    auto mask = r4j::mask_from(attention_mask, rows, seq_len, net.device(), "attention_mask");
    auto lmask = r4j::mask_from(loss_mask, rows, seq_len, net.device(), "loss_mask");
    at::Tensor ref;
    if (ref_logps) {
      ref = at::from_blob(const_cast<double*>(ref_logps), {rows}, at::kDouble).clone();
      require(at::isfinite(ref).all().item<bool>(), "ref_logps holds a NaN or Inf");
      ref = ref.to(net.device());
    }
    std::unique_ptr<at::NoGradGuard> no_grad;
    if (!backward) no_grad = std::make_unique<at::NoGradGuard>();
    auto out = r4j::dpo_loss(net, tok, mask, lmask, ref, *options);
    if (!std::isfinite(out.stats.loss)) fail(R4J_ERR_NON_FINITE, "the DPO loss is " + std::to_string(out.stats.loss));
    if (backward) (out.loss * loss_scale).backward();
    *out_stats = out.stats;
    if (out_logps) {
      auto l = out.logps.to(at::kCPU, at::kDouble).contiguous();
      std::copy_n(l.data_ptr<double>(), rows, out_logps);
    }
  });
}

}  // extern "C"
