// The DPO family's losses, each a small function of the summed log-probs
// (TRL's dpo_trainer.py definitions), and the table that names them.
#include <cmath>
#include <string>

#include "dpo/dpo.hpp"
#include "errors.hpp"

namespace r4j {
namespace {

// Delta = (pi_c - ref_c) - (pi_r - ref_r): the implicit reward margin / beta.
at::Tensor delta(const PairLogps& p) { return (p.chosen - p.ref_chosen) - (p.rejected - p.ref_rejected); }

// sigmoid (DPO): -log sigma(beta Delta); with label smoothing eps (conservative
// DPO, TRL): -(1 - eps) log sigma(beta Delta) - eps log sigma(-beta Delta)
at::Tensor sigmoid_loss(const PairLogps& p, const r4j_dpo_options& o) {
  const double eps = o.label_smoothing;
  auto z = o.beta * delta(p);
  if (eps == 0) return -at::log_sigmoid(z);
  return -(1 - eps) * at::log_sigmoid(z) - eps * at::log_sigmoid(-z);
}

// robust (Chowdhury et al. 2024), label noise eps:
// [-(1 - eps) log sigma(beta Delta) + eps log sigma(-beta Delta)] / (1 - 2 eps)
at::Tensor robust_loss(const PairLogps& p, const r4j_dpo_options& o) {
  const double eps = o.label_smoothing;
  auto z = o.beta * delta(p);
  return (-(1 - eps) * at::log_sigmoid(z) + eps * at::log_sigmoid(-z)) / (1 - 2 * eps);
}

// ipo (Azar et al. 2023), log-ratios averaged per token:
// (Delta_c / len_c - Delta_r / len_r - 1 / (2 beta))^2
at::Tensor ipo_loss(const PairLogps& p, const r4j_dpo_options& o) {
  auto h = (p.chosen - p.ref_chosen) / p.chosen_len - (p.rejected - p.ref_rejected) / p.rejected_len;
  return (h - 1 / (2 * o.beta)).pow(2);
}

// hinge (SLiC): max(0, 1 - beta Delta)
at::Tensor hinge_loss(const PairLogps& p, const r4j_dpo_options& o) { return at::relu(1 - o.beta * delta(p)); }

// simpo (Meng et al. 2024), reference-free, average per-token log-probs:
// -log sigma(beta (pi_c / len_c - pi_r / len_r) - gamma)
at::Tensor simpo_loss(const PairLogps& p, const r4j_dpo_options& o) {
  return -at::log_sigmoid(o.beta * (p.chosen / p.chosen_len - p.rejected / p.rejected_len) - o.simpo_gamma);
}

struct Entry {
  const char* name;
  DpoLossFn fn;
  bool needs_reference;
};

// Indexed by R4J_DPO_*.
const Entry kLosses[] = {
    {"sigmoid", sigmoid_loss, true}, {"robust", robust_loss, true}, {"ipo", ipo_loss, true},
    {"hinge", hinge_loss, true},     {"simpo", simpo_loss, false},
};
constexpr int32_t kCount = sizeof(kLosses) / sizeof(kLosses[0]);

const Entry& entry(int32_t loss_type) {
  require(loss_type >= 0 && loss_type < kCount, "unknown DPO loss type " + std::to_string(loss_type));
  return kLosses[loss_type];
}

}  // namespace

DpoLossFn dpo_loss_fn(int32_t loss_type) { return entry(loss_type).fn; }
const char* dpo_loss_name(int32_t loss_type) { return entry(loss_type).name; }
bool dpo_loss_needs_reference(int32_t loss_type) { return entry(loss_type).needs_reference; }

void validate(const r4j_dpo_options& o) {
  require(o.n_losses >= 1 && o.n_losses <= R4J_DPO_MAX_LOSSES,
          "dpo n_losses must be in [1, " + std::to_string(R4J_DPO_MAX_LOSSES) + "], got " + std::to_string(o.n_losses));
  for (int32_t k = 0; k < o.n_losses; ++k) {
    entry(o.loss_types[k]);
    require(std::isfinite(o.loss_weights[k]), "dpo loss_weights[" + std::to_string(k) + "] is not finite");
  }
  require(o.beta > 0 && std::isfinite(o.beta), "dpo beta must be > 0, got " + std::to_string(o.beta));
  require(o.label_smoothing >= 0 && o.label_smoothing < 0.5,
          "dpo label_smoothing must be in [0, 0.5), got " + std::to_string(o.label_smoothing));
  require(std::isfinite(o.simpo_gamma), "dpo simpo_gamma is not finite");
  require(o.rpo_alpha >= 0 && std::isfinite(o.rpo_alpha),
          "dpo rpo_alpha must be >= 0, got " + std::to_string(o.rpo_alpha));
}

bool needs_reference(const r4j_dpo_options& o) {
  for (int32_t k = 0; k < o.n_losses; ++k)
    if (dpo_loss_needs_reference(o.loss_types[k])) return true;
  return false;
}

}  // namespace r4j
