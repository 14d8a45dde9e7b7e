#include "attention_softmax.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of its max and reductions).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "simd.hpp"
#include "softmax_rows.hpp"

namespace r4j {
namespace {

std::atomic<bool> attention_softmax_fast{true};

// Each kernel takes one row: s [S] (the scores, rewritten), b [S] (its bias row).
// scale_bias_max: s = s * scale + b, returning its max; divide: s /= z; probs:
// s = exp(s * scale + b - m) / z from a given m and z. The exp pass between
// scale_bias_max and divide is softmax_rows' (row_kernels().exp).
float scale_bias_max_plain(float* s, const float* b, int64_t S, float scale) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < S; ++j) {
    s[j] = s[j] * scale + b[j];
    m = std::max(m, s[j]);
  }
  return m;
}

void divide_plain(float* s, int64_t S, float z) {
  for (int64_t j = 0; j < S; ++j) s[j] /= z;
}

void probs_plain(float* s, const float* b, int64_t S, float scale, float m, float z) {
  for (int64_t j = 0; j < S; ++j) s[j] = std::exp(s[j] * scale + b[j] - m) / z;
}

__attribute__((target("avx2,fma"))) float scale_bias_max_avx2(float* s, const float* b, int64_t S, float scale) {
  const int64_t V = S / 8 * 8;
  const __m256 sc = _mm256_set1_ps(scale);
  __m256 mv = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < V; j += 8) {
    const __m256 x = _mm256_fmadd_ps(_mm256_loadu_ps(s + j), sc, _mm256_loadu_ps(b + j));
    _mm256_storeu_ps(s + j, x);
    mv = _mm256_max_ps(mv, x);
  }
  return std::max(simd::hmax_ps(mv), scale_bias_max_plain(s + V, b + V, S - V, scale));
}

__attribute__((target("avx2,fma"))) void divide_avx2(float* s, int64_t S, float z) {
  const int64_t V = S / 8 * 8;
  const __m256 zb = _mm256_set1_ps(z);
  for (int64_t j = 0; j < V; j += 8) _mm256_storeu_ps(s + j, _mm256_div_ps(_mm256_loadu_ps(s + j), zb));
  divide_plain(s + V, S - V, z);
}

__attribute__((target("avx2,fma"))) void probs_avx2(float* s, const float* b, int64_t S, float scale, float m, float z) {
  const int64_t V = S / 8 * 8;
  const __m256 sc = _mm256_set1_ps(scale), mb = _mm256_set1_ps(m), zb = _mm256_set1_ps(z);
  for (int64_t j = 0; j < V; j += 8) {
    const __m256 x = _mm256_fmadd_ps(_mm256_loadu_ps(s + j), sc, _mm256_loadu_ps(b + j));
    _mm256_storeu_ps(s + j, _mm256_div_ps(simd::exp_ps(_mm256_sub_ps(x, mb)), zb));
  }
  probs_plain(s + V, b + V, S - V, scale, m, z);
}

__attribute__((target("avx512f"))) float scale_bias_max_avx512(float* s, const float* b, int64_t S, float scale) {
  const int64_t V = S / 16 * 16;
  const __m512 sc = _mm512_set1_ps(scale);
  __m512 mv = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < V; j += 16) {
    const __m512 x = _mm512_fmadd_ps(_mm512_loadu_ps(s + j), sc, _mm512_loadu_ps(b + j));
    _mm512_storeu_ps(s + j, x);
    mv = _mm512_max_ps(mv, x);
  }
  return std::max(_mm512_reduce_max_ps(mv), scale_bias_max_plain(s + V, b + V, S - V, scale));
}

__attribute__((target("avx512f"))) void divide_avx512(float* s, int64_t S, float z) {
  const int64_t V = S / 16 * 16;
  const __m512 zb = _mm512_set1_ps(z);
  for (int64_t j = 0; j < V; j += 16) _mm512_storeu_ps(s + j, _mm512_div_ps(_mm512_loadu_ps(s + j), zb));
  divide_plain(s + V, S - V, z);
}

__attribute__((target("avx512f"))) void probs_avx512(float* s, const float* b, int64_t S, float scale, float m,
                                                     float z) {
  const int64_t V = S / 16 * 16;
  const __m512 sc = _mm512_set1_ps(scale), mb = _mm512_set1_ps(m), zb = _mm512_set1_ps(z);
  for (int64_t j = 0; j < V; j += 16) {
    const __m512 x = _mm512_fmadd_ps(_mm512_loadu_ps(s + j), sc, _mm512_loadu_ps(b + j));
    _mm512_storeu_ps(s + j, _mm512_div_ps(simd::exp512_ps(_mm512_sub_ps(x, mb)), zb));
  }
  probs_plain(s + V, b + V, S - V, scale, m, z);
}

struct ScoresKernels {
  float (*scale_bias_max)(float*, const float*, int64_t, float);
  void (*divide)(float*, int64_t, float);
  void (*probs)(float*, const float*, int64_t, float, float, float);
  RowKernels rows;
};

ScoresKernels scores_kernels() {
  switch (simd::elementwise_isa()) {
    case simd::Isa::avx512: return {scale_bias_max_avx512, divide_avx512, probs_avx512, row_kernels()};
    case simd::Isa::avx2: return {scale_bias_max_avx2, divide_avx2, probs_avx2, row_kernels()};
    default: return {scale_bias_max_plain, divide_plain, probs_plain, row_kernels()};
  }
}

// Row r of scores [B, nh, n, S] is (b, h, i) = (r / (nh n), r / n % nh, r % n); its
// bias row is bias[b, 0, i] (or bias[b, 0, 0] when the bias broadcasts over queries).
template <typename F>
void for_each_scores_row(const at::Tensor& scores, const at::Tensor& bias, F row) {
  const int64_t nh = scores.size(1), n = scores.size(2), S = scores.size(3), R = scores.numel() / S;
  const int64_t bstride = bias.stride(0), istride = bias.size(2) == 1 ? 0 : bias.stride(2);
  float* sp = scores.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  at::parallel_for(0, R, std::max<int64_t>(1, 16384 / S), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row(r, sp + r * S, bp + r / (nh * n) * bstride + r % n * istride, S);
  });
}

}  // namespace

bool attention_softmax_applies(const at::Tensor& scores, const at::Tensor& bias) {
  return attention_softmax_fast && scores.device().is_cpu() && scores.scalar_type() == at::kFloat && scores.dim() == 4 &&
         scores.is_contiguous() && scores.numel() > 0 && bias.scalar_type() == at::kFloat && bias.dim() == 4 &&
         bias.size(0) == scores.size(0) && bias.size(1) == 1 && (bias.size(2) == 1 || bias.size(2) == scores.size(2)) &&
         bias.size(3) == scores.size(3) && bias.stride(3) == 1;
}

void set_fast_attention_softmax(bool on) { attention_softmax_fast = on; }

SoftmaxStats attention_softmax_(const at::Tensor& scores, const at::Tensor& bias, double scale) {
  TORCH_CHECK(attention_softmax_applies(scores, bias), "attention_softmax_: float32 CPU scores [B, nh, n, S] and bias [B, 1, n or 1, S] expected");
  auto sizes = scores.sizes().vec();
  sizes.back() = 1;
  SoftmaxStats st{at::empty(sizes, scores.options()), at::empty(sizes, scores.options())};
  float *mp = st.max.data_ptr<float>(), *zp = st.sum.data_ptr<float>();
  const auto k = scores_kernels();
  const float sc = static_cast<float>(scale);
  for_each_scores_row(scores, bias, [&](int64_t r, float* s, const float* b, int64_t S) {
    const float m = k.scale_bias_max(s, b, S, sc);
    const float z = static_cast<float>(k.rows.exp(s, S, m, /*store=*/true, /*with_zs=*/false).s);
    k.divide(s, S, z);
    mp[r] = m;
    zp[r] = z;
  });
  return st;
}

void attention_probs_(const at::Tensor& scores, const at::Tensor& bias, double scale, const at::Tensor& m,
                      const at::Tensor& z) {
  TORCH_CHECK(attention_softmax_applies(scores, bias), "attention_probs_: float32 CPU scores [B, nh, n, S] and bias [B, 1, n or 1, S] expected");
  auto mc = m.to(at::kFloat).contiguous(), zc = z.to(at::kFloat).contiguous();
  TORCH_CHECK(mc.numel() == scores.numel() / scores.size(3) && zc.numel() == mc.numel(), "attention_probs_: one m and z per row expected");
  const float *mp = mc.data_ptr<float>(), *zp = zc.data_ptr<float>();
  const auto k = scores_kernels();
  const float sc = static_cast<float>(scale);
  for_each_scores_row(scores, bias, [&](int64_t r, float* s, const float* b, int64_t S) { k.probs(s, b, S, sc, mp[r], zp[r]); });
}

}  // namespace r4j
