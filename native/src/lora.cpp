// LoRA (Hu et al. 2021) on the projections an architecture lists: adapters
// with PEFT's names and initialisation (A Kaiming-uniform as nn.Linear's
// default, B zeros, so a new adapter changes nothing), frozen base weights,
// and merging into the base.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

#include "cpu_allocator.hpp"
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
  for (auto& t : lora_targets())
    require(*t.slot == nullptr || !storage_shared(t.weight),
            "lora merge: base weight '" + t.module + ".weight' is shared with another model "
            "(r4j_model_share_base); merging would change both");
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
  shared_base_bytes_ = 0;
}

bool storage_shared(const at::Tensor& t) { return t.storage().use_count() > 1; }

static std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

int64_t Model::share_base(const Model& from) {
  require(&from != this, "share_base: model and from are the same model");
  require(config_.arch == from.config_.arch, "share_base: the models are of different architectures");
  // Every check before the first tensor is shared: an error leaves both models as they were.
  std::vector<std::pair<at::Tensor, at::Tensor>> pairs;  // (this model's, from's)
  for (const auto& [name, mine] : params_) {
    if (mine.requires_grad() || is_head(name) || name.rfind("base_model.model.", 0) == 0) continue;
    const std::string what = "share_base: base tensor '" + name + "'";
    auto theirs = from.find(name);
    require(theirs.defined(), what + " is missing from the source model");
    require(!theirs.requires_grad(), what + " is trainable in the source model (only frozen base weights are shared)");
    require(mine.sizes() == theirs.sizes(),
            what + " is " + shape_of(mine) + " here but " + shape_of(theirs) + " in the source model");
    require(mine.scalar_type() == theirs.scalar_type(), what + " is " + std::string(c10::toString(mine.scalar_type())) +
                                                            " here but " + c10::toString(theirs.scalar_type()) +
                                                            " in the source model");
    require(mine.device() == theirs.device(), what + " is on " + mine.device().str() + " here but on " +
                                                  theirs.device().str() + " in the source model");
    // The same checkpoint gives the same bits; anything else would change this model's outputs.
    require(mine.data_ptr() == theirs.data_ptr() || at::equal(mine, theirs),
            what + " holds different values in the source model (not the same checkpoint)");
    pairs.emplace_back(mine, theirs);
  }
  require(!pairs.empty(), "share_base: the model has no frozen base weights (add LoRA adapters first)");
  int64_t bytes = 0;
  {
    at::NoGradGuard no_grad;
    for (auto& [mine, theirs] : pairs) {
      // In place on this tensor's own TensorImpl, so every alias of it (a tied LM head, the
      // architecture's fields) sees from's storage; the old storage is freed here.
      if (mine.data_ptr() != theirs.data_ptr()) mine.set_(theirs);
      bytes += static_cast<int64_t>(mine.nbytes());
    }
  }
  shared_base_bytes_ = bytes;
  release_cpu_cache();
  return bytes;
}

at::Tensor Model::plus_lora(const at::Tensor& y, const LoraAdapter* a, const at::Tensor& x) const {
  if (!lora_active(a)) return y;
  auto in = training_ && lora_options_.dropout > 0 ? at::dropout(x, lora_options_.dropout, /*train=*/true) : x;
  auto update = linear(linear(in, a->A, {}, /*w_is_out_by_in=*/true), a->B, {}, /*w_is_out_by_in=*/true);
  return y + update * a->scale;
}

}  // namespace r4j
