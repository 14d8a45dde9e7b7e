// LoRA (Hu et al. 2021) on the projections an architecture lists: adapters
// with PEFT's names and initialisation (A Kaiming-uniform as nn.Linear's
// default, B zeros, so a new adapter changes nothing), frozen base weights,
// and merging into the base.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

#include "errors.hpp"
#include "linear.hpp"
#include "model.hpp"

namespace r4j {

r4j_lora_options default_lora_options() {
  r4j_lora_options o{};
  o.r = 8;
  o.alpha = 8.0;
  o.dropout = 0.0;
  o.target_modules = 0;
  o.use_rslora = 0;
  o.seed = 0;
  return o;
}

static bool is_head(const std::string& name) {
  return name.rfind("v_head.", 0) == 0 || name.rfind("score.", 0) == 0;
}

void Model::add_lora(const r4j_lora_options& o) {
  require(lora_.empty(), "the model already has LoRA adapters");
  require(o.r >= 1, "lora: r must be >= 1, got " + std::to_string(o.r));
  require(o.alpha > 0 && std::isfinite(o.alpha), "lora: alpha must be > 0");
  require(o.dropout >= 0 && o.dropout < 1, "lora: dropout must be in [0, 1)");
  auto targets = lora_targets();
  int32_t all = 0;
  for (const auto& t : targets) all |= t.kind;
  const int32_t wanted = o.target_modules == 0 ? all : o.target_modules;
  require((wanted & ~all) == 0, "lora: target_modules names projections this architecture does not have (bits " +
                                    std::to_string(wanted & ~all) + ")");
  const double r = static_cast<double>(o.r);
  const double scale = o.use_rslora ? o.alpha / std::sqrt(r) : o.alpha / r;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  for (auto& t : targets) {
    if (!(t.kind & wanted)) continue;
    const int64_t in = t.weight.size(t.out_by_in ? 1 : 0), out = t.weight.size(t.out_by_in ? 0 : 1);
    auto a = std::make_unique<LoraAdapter>();
    // nn.Linear's default init, which PEFT keeps for lora_A: U(-1/sqrt(in), 1/sqrt(in)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    auto A = at::empty({o.r, in}, at::kFloat);
    A.uniform_(-bound, bound, gen);
    const std::string prefix = "base_model.model." + t.module;
    a->A = add(prefix + ".lora_A.weight", A.to(device_, t.weight.scalar_type()));
    a->B = add(prefix + ".lora_B.weight", at::zeros({out, o.r}, t.weight.options()));
    a->scale = scale;
    *t.slot = a.get();
    lora_.push_back(std::move(a));
  }
  for (auto& [name, p] : params_)
    if (name.rfind("base_model.model.", 0) != 0 && !is_head(name)) p.set_requires_grad(false);
  lora_options_ = o;
  lora_options_.target_modules = wanted;
  adapters_enabled_ = true;
}

void Model::merge_lora() {
  require(!lora_.empty(), "the model has no LoRA adapters to merge");
  at::NoGradGuard no_grad;
  for (auto& t : lora_targets()) {
    const LoraAdapter* a = *t.slot;
    if (a == nullptr) continue;
    const auto wide = at::promote_types(t.weight.scalar_type(), at::kFloat);
    auto delta = a->B.to(wide).matmul(a->A.to(wide)) * a->scale;  // [out, in]
    t.weight.add_((t.out_by_in ? delta : delta.t()).to(t.weight.scalar_type()));
    *t.slot = nullptr;
  }
  lora_.clear();
  std::vector<std::pair<std::string, at::Tensor>> kept;
  for (auto& [name, p] : params_) {
    if (name.rfind("base_model.model.", 0) == 0) continue;
    p.set_requires_grad(true);
    kept.emplace_back(name, p);
  }
  params_ = std::move(kept);
  lora_options_ = {};
  adapters_enabled_ = true;
}

at::Tensor Model::plus_lora(const at::Tensor& y, const LoraAdapter* a, const at::Tensor& x) const {
  if (!lora_active(a)) return y;
  auto in = training_ && lora_options_.dropout > 0 ? at::dropout(x, lora_options_.dropout, /*train=*/true) : x;
  auto update = linear(linear(in, a->A, {}, /*w_is_out_by_in=*/true), a->B, {}, /*w_is_out_by_in=*/true);
  return y + update * a->scale;
}

}  // namespace r4j
