#include "gelu.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of its min, max and rounding).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "bf16_convert.hpp"
#include "simd.hpp"

namespace r4j {
namespace {

std::atomic<bool> gelu_fast_enabled{true};

constexpr float kGeluA = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

// d gelu / du = 0.5 (1 + t) + 0.5 u (1 - t^2) sqrt(2/pi) (1 + 3 c u^2), t = tanh(sqrt(2/pi) (u + c u^3))
float gelu_grad_plain(float u) {
  const float t = std::tanh(kGeluA * (u + kGeluC * u * u * u));
  return 0.5f * (1 + t) + 0.5f * u * (1 - t * t) * kGeluA * (1 + 3 * kGeluC * u * u);
}

void gelu_forward_plain(const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * u[i] * (1 + std::tanh(kGeluA * (u[i] + kGeluC * u[i] * u[i] * u[i])));
}

void gelu_backward_plain(const float* u, const float* g, float* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) du[i] = g[i] * gelu_grad_plain(u[i]);
}

__attribute__((target("avx2,fma"))) void gelu_forward_avx2(const float* u, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, simd::gelu_tanh_ps(_mm256_loadu_ps(u + i)));
  gelu_forward_plain(u + i, y + i, n - i);
}

__attribute__((target("avx2,fma"))) void gelu_backward_avx2(const float* u, const float* g, float* du, int64_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(u + i), x2 = _mm256_mul_ps(x, x);
    const __m256 z = _mm256_mul_ps(_mm256_set1_ps(kGeluA), _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(kGeluC), x2), x, x));
    const __m256 e = simd::exp_ps(_mm256_add_ps(z, z));
    const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
    const __m256 left = _mm256_mul_ps(half, _mm256_add_ps(one, t));
    const __m256 slope = _mm256_mul_ps(_mm256_set1_ps(kGeluA), _mm256_fmadd_ps(_mm256_set1_ps(3 * kGeluC), x2, one));
    const __m256 right = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_fnmadd_ps(t, t, one)), slope);
    _mm256_storeu_ps(du + i, _mm256_mul_ps(_mm256_loadu_ps(g + i), _mm256_add_ps(left, right)));
  }
  gelu_backward_plain(u + i, g + i, du + i, n - i);
}

__attribute__((target("avx512f"))) void gelu_forward_avx512(const float* u, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, simd::gelu_tanh512_ps(_mm512_loadu_ps(u + i)));
  gelu_forward_plain(u + i, y + i, n - i);
}

__attribute__((target("avx512f"))) void gelu_backward_avx512(const float* u, const float* g, float* du, int64_t n) {
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(u + i), x2 = _mm512_mul_ps(x, x);
    const __m512 z = _mm512_mul_ps(_mm512_set1_ps(kGeluA), _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(kGeluC), x2), x, x));
    const __m512 e = simd::exp512_ps(_mm512_add_ps(z, z));
    const __m512 t = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
    const __m512 left = _mm512_mul_ps(half, _mm512_add_ps(one, t));
    const __m512 slope = _mm512_mul_ps(_mm512_set1_ps(kGeluA), _mm512_fmadd_ps(_mm512_set1_ps(3 * kGeluC), x2, one));
    const __m512 right = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_fnmadd_ps(t, t, one)), slope);
    _mm512_storeu_ps(du + i, _mm512_mul_ps(_mm512_loadu_ps(g + i), _mm512_add_ps(left, right)));
  }
  gelu_backward_plain(u + i, g + i, du + i, n - i);
}

constexpr int64_t kGeluGrain = 1 << 14;  // elements per task

void forward_f32(simd::Isa isa, const float* u, float* y, int64_t n) {
  if (isa == simd::Isa::avx512) gelu_forward_avx512(u, y, n);
  else if (isa == simd::Isa::avx2) gelu_forward_avx2(u, y, n);
  else gelu_forward_plain(u, y, n);
}

void backward_f32(simd::Isa isa, const float* u, const float* g, float* du, int64_t n) {
  if (isa == simd::Isa::avx512) gelu_backward_avx512(u, g, du, n);
  else if (isa == simd::Isa::avx2) gelu_backward_avx2(u, g, du, n);
  else gelu_backward_plain(u, g, du, n);
}

// bf16 tensors run the float32 kernels on blocks widened on the stack and round
// the result once, as ATen's bf16 GELU computes in float32.
constexpr int64_t kBf16Block = 512;

at::Tensor tanh_gelu_forward(const at::Tensor& u) {
  auto y = at::empty_like(u);
  const auto isa = simd::elementwise_isa();
  if (u.scalar_type() == at::kBFloat16) {
    const auto* up = u.data_ptr<at::BFloat16>();
    auto* yp = y.data_ptr<at::BFloat16>();
    at::parallel_for(0, u.numel(), kGeluGrain, [&](int64_t begin, int64_t end) {
      float uf[kBf16Block], yf[kBf16Block];
      for (int64_t i = begin; i < end; i += kBf16Block) {
        const int64_t n = std::min(kBf16Block, end - i);
        widen_bf16(up + i, uf, n);
        forward_f32(isa, uf, yf, n);
        round_to_bf16(yf, yp + i, n);
      }
    });
    return y;
  }
  const float* up = u.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, u.numel(), kGeluGrain,
                   [&](int64_t begin, int64_t end) { forward_f32(isa, up + begin, yp + begin, end - begin); });
  return y;
}

at::Tensor tanh_gelu_backward(const at::Tensor& u, const at::Tensor& g) {
  auto du = at::empty_like(u);
  const auto isa = simd::elementwise_isa();
  if (u.scalar_type() == at::kBFloat16) {
    const auto* up = u.data_ptr<at::BFloat16>();
    const auto* gp = g.data_ptr<at::BFloat16>();
    auto* dp = du.data_ptr<at::BFloat16>();
    at::parallel_for(0, u.numel(), kGeluGrain, [&](int64_t begin, int64_t end) {
      float uf[kBf16Block], gf[kBf16Block], df[kBf16Block];
      for (int64_t i = begin; i < end; i += kBf16Block) {
        const int64_t n = std::min(kBf16Block, end - i);
        widen_bf16(up + i, uf, n);
        widen_bf16(gp + i, gf, n);
        backward_f32(isa, uf, gf, df, n);
        round_to_bf16(df, dp + i, n);
      }
    });
    return du;
  }
  const float* up = u.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* dp = du.data_ptr<float>();
  at::parallel_for(0, u.numel(), kGeluGrain, [&](int64_t begin, int64_t end) {
    backward_f32(isa, up + begin, gp + begin, dp + begin, end - begin);
  });
  return du;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GeluTanh : torch::autograd::Function<GeluTanh> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& u) {
    ctx->save_for_backward({u});
    return tanh_gelu_forward(u);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {tanh_gelu_backward(ctx->get_saved_variables()[0], grads[0].contiguous())};
  }
};

}  // namespace

void set_fast_gelu(bool on) { gelu_fast_enabled = on; }

at::Tensor gelu_tanh(const at::Tensor& u) {
  const bool typed = u.scalar_type() == at::kFloat || u.scalar_type() == at::kBFloat16;
  if (!gelu_fast_enabled || !u.device().is_cpu() || !typed || u.numel() == 0)
    return at::gelu(u, "tanh");
  auto uc = u.contiguous();
  if (at::GradMode::is_enabled() && u.requires_grad()) return GeluTanh::apply(uc);
  return tanh_gelu_forward(uc);
}

}  // namespace r4j
