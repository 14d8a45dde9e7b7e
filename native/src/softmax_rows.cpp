#include "softmax_rows.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of its max and reductions).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "bf16_convert.hpp"
#include "simd.hpp"

namespace r4j {
namespace {

std::atomic<bool> rows_fast_enabled{true};
std::atomic<bool> bf16_rows_enabled{true};

float lse_max_plain(const float* z, int64_t V) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < V; ++j) m = std::max(m, z[j]);
  return m;
}

ExpSums lse_exp_plain(float* z, int64_t V, float m, bool store, bool with_zs) {
  ExpSums r;
  for (int64_t j = 0; j < V; ++j) {
    const float d = z[j] - m, e = std::exp(d);
    r.s += e;
    if (with_zs && e > 0) r.zs += static_cast<double>(e) * d;  // a -inf logit adds 0, not 0 * -inf
    if (store) z[j] = e;
  }
  return r;
}

__attribute__((target("avx2,fma"))) float lse_max_avx2(const float* z, int64_t V) {
  __m256 mv = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(z + j));
  float m = simd::hmax_ps(mv);
  for (; j < V; ++j) m = std::max(m, z[j]);
  return m;
}

__attribute__((target("avx2,fma"))) ExpSums lse_exp_avx2(float* z, int64_t V, float m, bool store, bool with_zs) {
  const __m256 mb = _mm256_set1_ps(m);
  __m256 s = _mm256_setzero_ps(), zs = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(z + j), mb);
    const __m256 e = simd::exp_ps(d);
    s = _mm256_add_ps(s, e);
    if (with_zs) zs = _mm256_fmadd_ps(e, _mm256_and_ps(d, _mm256_cmp_ps(e, _mm256_setzero_ps(), _CMP_GT_OQ)), zs);
    if (store) _mm256_storeu_ps(z + j, e);
  }
  ExpSums tail = lse_exp_plain(z + j, V - j, m, store, with_zs);
  return {simd::hsum_ps(s) + tail.s, simd::hsum_ps(zs) + tail.zs};
}

__attribute__((target("avx512f"))) float lse_max_avx512(const float* z, int64_t V) {
  __m512 mv = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 16 <= V; j += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(z + j));
  float m = _mm512_reduce_max_ps(mv);
  for (; j < V; ++j) m = std::max(m, z[j]);
  return m;
}

__attribute__((target("avx512f"))) ExpSums lse_exp_avx512(float* z, int64_t V, float m, bool store, bool with_zs) {
  const __m512 mb = _mm512_set1_ps(m);
  __m512 s = _mm512_setzero_ps(), zs = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= V; j += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(z + j), mb);
    const __m512 e = simd::exp512_ps(d);
    s = _mm512_add_ps(s, e);
    if (with_zs) zs = _mm512_mask3_fmadd_ps(e, d, zs, _mm512_cmp_ps_mask(e, _mm512_setzero_ps(), _CMP_GT_OQ));
    if (store) _mm512_storeu_ps(z + j, e);
  }
  ExpSums tail = lse_exp_plain(z + j, V - j, m, store, with_zs);
  return {_mm512_reduce_add_ps(s) + tail.s, _mm512_reduce_add_ps(zs) + tail.zs};
}

// Rows per task: a row is V floats of work (200 KB at GPT-2's vocabulary).
constexpr int64_t kRowGrain = 1;

}  // namespace

RowKernels row_kernels() {
  switch (simd::elementwise_isa()) {
    case simd::Isa::avx512: return {lse_max_avx512, lse_exp_avx512};
    case simd::Isa::avx2: return {lse_max_avx2, lse_exp_avx2};
    default: return {lse_max_plain, lse_exp_plain};
  }
}

bool softmax_rows_applies(const at::Tensor& z) {
  const bool dtype = z.scalar_type() == at::kFloat || (z.scalar_type() == at::kBFloat16 && bf16_rows_enabled);
  return rows_fast_enabled && z.device().is_cpu() && dtype && z.dim() == 2 && z.is_contiguous() && z.size(1) > 0;
}

void set_fast_softmax_rows(bool on) { rows_fast_enabled = on; }

void set_bf16_softmax_rows(bool on) { bf16_rows_enabled = on; }

namespace {

// Row i of z as float32 for the kernels: the row itself, or a bf16 row widened
// (exactly) into the thread's buffer of V floats, which stays in its cache.
float* float_row(float* z, int64_t, std::vector<float>&) { return z; }
float* float_row(c10::BFloat16* z, int64_t V, std::vector<float>& buffer) {
  buffer.resize(V);
  widen_bf16(z, buffer.data(), V);
  return buffer.data();
}

// A row the gradient kernel wrote back into z: in place already, or rounded into the bf16 row.
void store_row(const float*, float*, int64_t) {}
void store_row(const float* row, c10::BFloat16* z, int64_t V) { round_to_bf16(row, z, V); }

template <class T>
RowLogSoftmax row_log_softmax_of(const at::Tensor& z, const at::Tensor& targets, bool entropy) {
  const int64_t n = z.size(0), V = z.size(1);
  auto y = targets.to(at::kLong).contiguous();
  auto opts = z.options().dtype(at::kFloat);
  RowLogSoftmax out{at::empty({n}, opts), entropy ? at::empty({n}, opts) : at::Tensor()};
  // The kernels write only with store: the row is read as const data here.
  auto* zp = const_cast<T*>(z.data_ptr<T>());
  const int64_t* yp = y.data_ptr<int64_t>();
  float* lp = out.logprobs.data_ptr<float>();
  float* hp = entropy ? out.entropy.data_ptr<float>() : nullptr;
  const RowKernels k = row_kernels();
  at::parallel_for(0, n, kRowGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> buffer;
    for (int64_t i = begin; i < end; ++i) {
      float* row = float_row(zp + i * V, V, buffer);
      const float m = k.max(row, V);
      const ExpSums r = k.exp(row, V, m, /*store=*/false, entropy);
      const double lse = m + std::log(r.s);
      lp[i] = static_cast<float>(row[yp[i]] - lse);
      // H = -sum p (z - lse) = (lse - m) - sum p (z - m)
      if (entropy) hp[i] = static_cast<float>(std::log(r.s) - r.zs / r.s);
    }
  });
  return out;
}

template <class T>
void log_softmax_grad_of(const at::Tensor& z, const at::Tensor& targets, const at::Tensor& g) {
  const int64_t n = z.size(0), V = z.size(1);
  auto y = targets.to(at::kLong).contiguous();
  auto gc = g.to(at::kFloat).contiguous();
  T* zp = z.data_ptr<T>();
  const int64_t* yp = y.data_ptr<int64_t>();
  const float* gp = gc.data_ptr<float>();
  const RowKernels k = row_kernels();
  at::parallel_for(0, n, kRowGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> buffer;
    for (int64_t i = begin; i < end; ++i) {
      float* row = float_row(zp + i * V, V, buffer);
      const float m = k.max(row, V);
      const ExpSums r = k.exp(row, V, m, /*store=*/true, false);  // row = exp(z - m)
      const float c = static_cast<float>(-gp[i] / r.s);            // -g / sum: p_j = e_j / sum
      for (int64_t j = 0; j < V; ++j) row[j] *= c;
      row[yp[i]] += gp[i];
      store_row(row, zp + i * V, V);
    }
  });
}

}  // namespace

RowLogSoftmax row_log_softmax(const at::Tensor& z, const at::Tensor& targets, bool entropy) {
  TORCH_CHECK(softmax_rows_applies(z), "row_log_softmax: z must be a contiguous float32 or bf16 CPU [n, V]");
  return z.scalar_type() == at::kFloat ? row_log_softmax_of<float>(z, targets, entropy)
                                       : row_log_softmax_of<c10::BFloat16>(z, targets, entropy);
}

void log_softmax_grad_(const at::Tensor& z, const at::Tensor& targets, const at::Tensor& g) {
  TORCH_CHECK(softmax_rows_applies(z), "log_softmax_grad_: z must be a contiguous float32 or bf16 CPU [n, V]");
  if (z.scalar_type() == at::kFloat) log_softmax_grad_of<float>(z, targets, g);
  else log_softmax_grad_of<c10::BFloat16>(z, targets, g);
}

}  // namespace r4j
