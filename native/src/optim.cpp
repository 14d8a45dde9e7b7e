#include "optim.hpp"

#include <cmath>

#include "errors.hpp"

namespace r4j {

r4j_adamw_options validate(const r4j_adamw_options& o) {
  require(o.beta1 >= 0 && o.beta1 < 1, "adamw: beta1 must be in [0, 1), got " + std::to_string(o.beta1));
  require(o.beta2 >= 0 && o.beta2 < 1, "adamw: beta2 must be in [0, 1), got " + std::to_string(o.beta2));
  require(o.eps > 0 && std::isfinite(o.eps), "adamw: eps must be > 0");
  require(o.weight_decay >= 0 && std::isfinite(o.weight_decay), "adamw: weight_decay must be >= 0");
  require(o.max_grad_norm >= 0 && std::isfinite(o.max_grad_norm), "adamw: max_grad_norm must be >= 0");
  return o;
}

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const r4j_adamw_options& options)
    : options_(validate(options)) {
  for (auto& [name, p] : params) {
    Slot s;
    s.name = name;
    s.param = p;
    auto f32 = p.options().dtype(at::kFloat);
    s.exp_avg = at::zeros(p.sizes(), f32);
    s.exp_avg_sq = at::zeros(p.sizes(), f32);
    if (p.scalar_type() != at::kFloat) s.master = p.detach().to(at::kFloat);
    s.decay = p.dim() >= 2;  // matrices and embeddings decay; biases and norm gains do not
    slots_.push_back(std::move(s));
  }
}

void AdamW::zero_grad() {
  for (auto& s : slots_) {
    if (s.param.grad().defined()) s.param.mutable_grad().reset();
  }
}

r4j_step_result AdamW::step(double lr) {
  require(lr >= 0 && std::isfinite(lr), "optimizer step: lr must be a finite number >= 0");
  at::NoGradGuard no_grad;
  r4j_step_result result{};

  // Global L2 norm over every gradient (per-tensor norms summed in float64).
  double sq = 0;
  for (auto& s : slots_) {
    if (!s.param.grad().defined()) continue;
    const double n = s.param.grad().norm().item<double>();
    sq += n * n;
  }
  const double norm = std::sqrt(sq);
  result.grad_norm = norm;
  if (!std::isfinite(norm)) {  // a NaN/Inf anywhere: leave the weights alone
    zero_grad();
    result.skipped = 1;
    result.step = step_;
    return result;
  }
  double clip = 1.0;
  if (options_.max_grad_norm > 0 && norm > options_.max_grad_norm) clip = options_.max_grad_norm / (norm + 1e-6);

  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1 - std::pow(b1, static_cast<double>(step_));
  const double bias2 = 1 - std::pow(b2, static_cast<double>(step_));
  for (auto& s : slots_) {
    if (!s.param.grad().defined()) continue;  // untouched this step, as torch.optim does
    auto g = s.param.grad().to(at::kFloat);
    if (clip != 1.0) g = g * clip;
    auto w = s.master.defined() ? s.master : s.param;
    if (s.decay && options_.weight_decay > 0) w.mul_(1 - lr * options_.weight_decay);
    s.exp_avg.mul_(b1).add_(g, 1 - b1);                          // m = b1 m + (1 - b1) g
    s.exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2);                // v = b2 v + (1 - b2) g^2
    auto denom = (s.exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(options_.eps);
    w.addcdiv_(s.exp_avg, denom, -lr / bias1);                   // w -= lr m_hat / (sqrt(v_hat) + eps)
    if (s.master.defined()) s.param.copy_(s.master);
  }
  zero_grad();
  result.step = step_;
  return result;
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& s : slots_) {
    out.emplace_back(s.name + ".exp_avg", s.exp_avg);
    out.emplace_back(s.name + ".exp_avg_sq", s.exp_avg_sq);
    if (s.master.defined()) out.emplace_back(s.name + ".master", s.master);
  }
  return out;
}

}  // namespace r4j
