#include "optim.hpp"

#include <cmath>
#include <type_traits>

#include <ATen/Parallel.h>
#include <immintrin.h>

#include "bf16_convert.hpp"
#include "collective.hpp"
#include "errors.hpp"
#include "simd.hpp"

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

void AdamW::reference_update(at::Tensor& w, const at::Tensor& grad, at::Tensor& m, at::Tensor& v, bool decay,
                             const Hyper& h) {
  auto g = grad.to(at::kFloat);
  if (h.clip != 1.0) g = g * h.clip;
  if (decay && h.weight_decay > 0) w.mul_(1 - h.lr * h.weight_decay);
  m.mul_(h.beta1).add_(g, 1 - h.beta1);                     // m = b1 m + (1 - b1) g
  v.mul_(h.beta2).addcmul_(g, g, 1 - h.beta2);              // v = b2 v + (1 - b2) g^2
  auto denom = (v.sqrt() / h.sqrt_bias2).add_(h.eps);
  w.addcdiv_(m, denom, h.step_size);                        // w -= lr m_hat / (sqrt(v_hat) + eps)
}

namespace {

struct Scalars {
  float clip, b1, b2, keep, eps, sqrt_bias2, step;
};

// w <- w * keep + step * m / (sqrt(v) / sqrt_bias2 + eps) after the moment updates, for
// element i. G: the gradient's type, float or bf16 (widened as it is read); out, when not
// null, receives w rounded to bf16 (to nearest even, as copy_), in the same pass. Inlined
// into each kernel and compiled for its target: in the AVX2 kernel GCC fuses the
// multiply-adds, as that kernel's scalar elements always have been.
template <typename G>
__attribute__((always_inline)) inline void adamw_element(float* w, const G* g, float* m, float* v, c10::BFloat16* out,
                                                         int64_t i, const Scalars& c) {
  const float gi = static_cast<float>(g[i]) * c.clip;
  m[i] = m[i] * c.b1 + (1 - c.b1) * gi;
  v[i] = v[i] * c.b2 + (1 - c.b2) * gi * gi;
  w[i] = w[i] * c.keep + c.step * m[i] / (std::sqrt(v[i]) / c.sqrt_bias2 + c.eps);
  if (out) out[i] = c10::BFloat16(w[i]);
}

// Elements [begin, end), one at a time: the twin of the AVX2 kernel.
template <typename G>
void adamw_range_plain(float* w, const G* g, float* m, float* v, c10::BFloat16* out, int64_t begin, int64_t end,
                       const Scalars& c) {
  for (int64_t i = begin; i < end; ++i) adamw_element(w, g, m, v, out, i, c);
}

template <typename G>
__attribute__((target("avx2,fma"))) void adamw_range_avx2(float* w, const G* g, float* m, float* v,
                                                           c10::BFloat16* out, int64_t begin, int64_t end,
                                                           const Scalars& c) {
  const __m256 clip = _mm256_set1_ps(c.clip), b1 = _mm256_set1_ps(c.b1), b2 = _mm256_set1_ps(c.b2);
  const __m256 ob1 = _mm256_set1_ps(1 - c.b1), ob2 = _mm256_set1_ps(1 - c.b2), keep = _mm256_set1_ps(c.keep);
  const __m256 eps = _mm256_set1_ps(c.eps), sb2 = _mm256_set1_ps(c.sqrt_bias2), step = _mm256_set1_ps(c.step);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 gi;
    if constexpr (std::is_same_v<G, float>)
      gi = _mm256_loadu_ps(g + i);
    else
      gi = widen8_bf16(g + i);
    gi = _mm256_mul_ps(gi, clip);
    const __m256 mi = _mm256_fmadd_ps(_mm256_loadu_ps(m + i), b1, _mm256_mul_ps(ob1, gi));
    const __m256 vi = _mm256_fmadd_ps(_mm256_loadu_ps(v + i), b2, _mm256_mul_ps(_mm256_mul_ps(ob2, gi), gi));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), sb2), eps);
    const __m256 wi = _mm256_fmadd_ps(step, _mm256_div_ps(mi, denom), _mm256_mul_ps(_mm256_loadu_ps(w + i), keep));
    _mm256_storeu_ps(w + i, wi);
    if (out) round8_to_bf16(wi, out + i);
  }
  for (; i < end; ++i) adamw_element(w, g, m, v, out, i, c);
}

template <typename G>
void adamw_range(float* w, const G* g, float* m, float* v, c10::BFloat16* out, int64_t n, const Scalars& c) {
  // Pinning "plain" (tests) runs the twin; any wider set has AVX2 + FMA.
  auto range = simd::elementwise_isa() == simd::Isa::plain ? adamw_range_plain<G> : adamw_range_avx2<G>;
  at::parallel_for(0, n, 1 << 16, [&](int64_t begin, int64_t end) { range(w, g, m, v, out, begin, end, c); });
}

}  // namespace

// The same update in one pass over memory: the reference reads and writes each
// state tensor several times and allocates two temporaries per parameter. A bf16
// gradient is widened, and a bf16 parameter written from its master, in that pass:
// memory traffic as float32's.
void AdamW::fused_update(at::Tensor& w, const at::Tensor& grad, at::Tensor& m, at::Tensor& v, bool decay,
                         const Hyper& h, const at::Tensor& param_bf16) {
  float* wp = w.data_ptr<float>();
  float* mp = m.data_ptr<float>();
  float* vp = v.data_ptr<float>();
  c10::BFloat16* out = param_bf16.defined() ? param_bf16.data_ptr<at::BFloat16>() : nullptr;
  const Scalars c{static_cast<float>(h.clip), static_cast<float>(h.beta1), static_cast<float>(h.beta2),
                  decay && h.weight_decay > 0 ? static_cast<float>(1 - h.lr * h.weight_decay) : 1.0f,
                  static_cast<float>(h.eps), static_cast<float>(h.sqrt_bias2), static_cast<float>(h.step_size)};
  if (grad.scalar_type() == at::kFloat)
    adamw_range(wp, grad.data_ptr<float>(), mp, vp, out, w.numel(), c);
  else
    adamw_range(wp, grad.data_ptr<at::BFloat16>(), mp, vp, out, w.numel(), c);
}

r4j_step_result AdamW::step(double lr) {
  require(lr >= 0 && std::isfinite(lr), "optimizer step: lr must be a finite number >= 0");
  at::NoGradGuard no_grad;
  r4j_step_result result{};

  // Data parallelism: the gradient every rank steps with is the average of
  // all ranks' gradients, before clipping, so the norm, the clip and the
  // non-finite skip below are the same decision on every rank.
  if (dist_active()) {
    std::vector<at::Tensor> params;
    params.reserve(slots_.size());
    for (const auto& s : slots_) params.push_back(s.param);
    average_gradients(params);
  }

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
  const Hyper h{lr, options_.weight_decay, b1, b2, options_.eps, std::sqrt(bias2), -lr / bias1, clip};
  for (auto& s : slots_) {
    if (!s.param.grad().defined()) continue;  // untouched this step, as torch.optim does
    auto w = s.master.defined() ? s.master : s.param;
    const auto& g = s.param.grad();
    const bool typed = g.scalar_type() == at::kFloat || g.scalar_type() == at::kBFloat16;
    if (fused_ && typed && g.is_contiguous() && w.is_contiguous() && w.device().is_cpu()) {
      // A bf16 parameter is written in the same pass; any other copy of a master after it.
      const bool writes_param = s.master.defined() && s.param.scalar_type() == at::kBFloat16 && s.param.is_contiguous();
      fused_update(w, g, s.exp_avg, s.exp_avg_sq, s.decay, h, writes_param ? s.param : at::Tensor());
      if (s.master.defined() && !writes_param) s.param.copy_(s.master);
    } else {
      reference_update(w, g, s.exp_avg, s.exp_avg_sq, s.decay, h);
      if (s.master.defined()) s.param.copy_(s.master);
    }
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
