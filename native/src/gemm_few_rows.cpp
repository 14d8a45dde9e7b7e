#include "gemm_few_rows.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <vector>

#include "simd.hpp"

namespace r4j {

bool few_rows_available() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

at::Tensor pack_panels(const at::Tensor& w, bool w_is_out_by_in) {
  auto wf = w.to(at::kFloat);
  const int64_t out = w_is_out_by_in ? w.size(0) : w.size(1), pad = (16 - out % 16) % 16, np = (out + pad) / 16;
  if (w_is_out_by_in) {  // [out, in]: sixteen rows at a time become one panel
    auto padded = pad ? at::constant_pad_nd(wf, {0, 0, 0, pad}) : wf;  // [16 np, in]
    return padded.view({np, 16, -1}).transpose(1, 2).contiguous();
  }
  auto padded = pad ? at::constant_pad_nd(wf, {0, pad}) : wf;  // [in, 16 np]
  return padded.view({-1, np, 16}).permute({1, 0, 2}).contiguous();
}

namespace {

// Panels [p0, p1): 16 accumulators (one per row of xT's 16 columns) of one
// panel's 16 outputs, fed one broadcast of x and one 64-byte line of W per k.
// The prefetch runs 32 lines (2 KiB) ahead of the loads: the hardware
// prefetcher alone leaves the kernel waiting on memory.
__attribute__((target("avx512f"))) void panels_kernel(const float* xT, const float* panels, const float* bias,
                                                      bool gelu, const float* residual, float* y, int64_t M,
                                                      int64_t K, int64_t N, int64_t p0, int64_t p1) {
  constexpr int64_t ahead = 32 * 16;
  for (int64_t p = p0; p < p1; ++p) {
    const float* w = panels + p * K * 16;
    __m512 acc[16];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      _mm_prefetch(reinterpret_cast<const char*>(w + k * 16 + ahead), _MM_HINT_T0);
      const __m512 wk = _mm512_loadu_ps(w + k * 16);
      const float* xk = xT + k * 16;
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(xk[r]), wk, acc[r]);
    }
    const int64_t n0 = p * 16, cols = std::min<int64_t>(16, N - n0);
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + n0) : _mm512_setzero_ps();
    for (int64_t r = 0; r < M; ++r) {
      __m512 v = _mm512_add_ps(acc[r], b);
      if (gelu) v = simd::gelu_tanh512_ps(v);
      if (residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, residual + r * N + n0));
      _mm512_mask_storeu_ps(y + r * N + n0, mask, v);
    }
  }
}

}  // namespace

at::Tensor few_rows_linear(const at::Tensor& x, const at::Tensor& panels, int64_t out, const at::Tensor& b,
                           const Epilogue& then) {
  const int64_t M = x.size(0), K = x.size(1), np = panels.size(0);
  TORCH_CHECK(M <= kFewRowsMax && panels.size(1) == K, "few_rows_linear: shapes");
  // x transposed to [K, 16] (rows beyond M zero): the 16 values a k needs share a cache line.
  std::vector<float> xT(K * 16, 0.0f);
  const float* xp = x.data_ptr<float>();
  for (int64_t r = 0; r < M; ++r)
    for (int64_t k = 0; k < K; ++k) xT[k * 16 + r] = xp[r * K + k];
  auto y = at::empty({M, out}, x.options());
  const float* bias = b.defined() ? b.data_ptr<float>() : nullptr;
  TORCH_CHECK(!then.residual.defined() || (then.residual.is_contiguous() && then.residual.numel() == M * out),
              "few_rows_linear: residual shape");
  const float* residual = then.residual.defined() ? then.residual.data_ptr<float>() : nullptr;
  at::parallel_for(0, np, 4, [&](int64_t p0, int64_t p1) {
    panels_kernel(xT.data(), panels.data_ptr<float>(), bias, then.gelu_tanh, residual, y.data_ptr<float>(), M, K, out, p0, p1);
  });
  return y;
}

}  // namespace r4j
