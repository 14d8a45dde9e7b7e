// The few-row product on bf16 weight panels (see gemm_few_rows.hpp): float32
// accumulation, three kernels chosen at run time by what the CPU has.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bf16_convert.hpp"
#include "errors.hpp"
#include "gemm_few_rows.hpp"
#include "simd.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace r4j {
namespace {

bool cpu_has_avx512bf16() {
  static const bool yes = R4J_CPU_SUPPORTS_AVX512("avx512f") && R4J_CPU_SUPPORTS_AVX512("avx512bf16");
  return yes;
}

std::atomic<const char*> pinned_bf16_kernel{nullptr};

const char* best_kernel() {
  if (cpu_has_avx512bf16()) return "avx512bf16";
  return simd::has_avx2_fma() ? "avx2" : "plain";
}

// Panel p's k-pair k2 holds 16 columns' (W[2 k2][j], W[2 k2 + 1][j]) as 32 uint16.
constexpr int64_t kPair = 32;

// AVX512_BF16: 16 accumulators of 16 columns, one dot product of pairs per row
// and k-pair. xp [K2, 16]: each row's (x[2 k2], x[2 k2 + 1]) as one uint32.
__attribute__((target("avx512f,avx512bf16"))) void panels_dpbf16(const uint32_t* xp, const uint16_t* panels, float* y,
                                                                 int64_t M, int64_t K2, int64_t N, int64_t p0,
                                                                 int64_t p1) {
  constexpr int64_t ahead = 32 * kPair;  // 2 KiB ahead, as the float32 kernel
  for (int64_t p = p0; p < p1; ++p) {
    const uint16_t* w = panels + p * K2 * kPair;
    // Sixteen named accumulators: GCC keeps them in registers (an array of
    // them it spilled around the asm below).
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
    for (int64_t k2 = 0; k2 < K2; ++k2) {
      _mm_prefetch(reinterpret_cast<const char*>(w + k2 * kPair + ahead), _MM_HINT_T0);
      const __m512bh wk = (__m512bh)_mm512_loadu_si512(w + k2 * kPair);
      const uint32_t* xk = xp + k2 * 16;
      // Row r's x pair as the instruction's broadcast memory operand ({1to16}):
      // GCC would otherwise issue a separate broadcast per product, doubling
      // the instructions per byte of weights (the bound at 16 rows).
#define R4J_DPBF16(r) asm("vdpbf16ps %[x]%{1to16%}, %[w], %[acc]" : [acc] "+v"(a##r) : [w] "v"(wk), [x] "m"(xk[r]))
      R4J_DPBF16(0); R4J_DPBF16(1); R4J_DPBF16(2); R4J_DPBF16(3); R4J_DPBF16(4); R4J_DPBF16(5); R4J_DPBF16(6);
      R4J_DPBF16(7); R4J_DPBF16(8); R4J_DPBF16(9); R4J_DPBF16(10); R4J_DPBF16(11); R4J_DPBF16(12);
      R4J_DPBF16(13); R4J_DPBF16(14); R4J_DPBF16(15);
#undef R4J_DPBF16
    }
    const __m512 acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    const int64_t n0 = p * 16, cols = std::min<int64_t>(16, N - n0);
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
    for (int64_t r = 0; r < M; ++r) _mm512_mask_storeu_ps(y + r * N + n0, mask, acc[r]);
  }
}

// AVX2: R rows (R <= 4: 2R accumulators of 8 columns, the panel's four
// widened weight vectors and two broadcasts fit the 16 registers) of one panel
// over k-pairs [k0, k1), accumulating into tile [16, 16]. A 32-bit lane holds
// a k-pair of one column: shifted left by 16 it is W[2 k2] as a float32,
// masked W[2 k2 + 1]. The first row group streams the block from memory,
// prefetching 2 KiB ahead; the next ones re-read it from L1 and meanwhile
// prefetch the next block into L2. xT [2 K2, 16] float32.
constexpr int64_t kBlockPairs = 256;  // 16 KiB of a panel

template <int R>
__attribute__((target("avx2,fma"))) void panel_rows_avx2(const uint16_t* w, const float* xT, int r0, int64_t k0,
                                                         int64_t k1, bool first, float* tile) {
  constexpr int64_t ahead = 32 * kPair;
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm256_loadu_ps(tile + (r0 + r) * 16);
    acc[r][1] = _mm256_loadu_ps(tile + (r0 + r) * 16 + 8);
  }
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t k2 = k0; k2 < k1; ++k2) {
    const uint16_t* wk = w + k2 * kPair;
    if (first) {
      _mm_prefetch(reinterpret_cast<const char*>(wk + ahead), _MM_HINT_T0);
    } else {
      _mm_prefetch(reinterpret_cast<const char*>(wk + kBlockPairs * kPair), _MM_HINT_T1);
    }
    const __m256i raw0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wk));
    const __m256i raw1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wk + 16));
    const __m256 even0 = _mm256_castsi256_ps(_mm256_slli_epi32(raw0, 16));
    const __m256 odd0 = _mm256_castsi256_ps(_mm256_and_si256(raw0, high));
    const __m256 even1 = _mm256_castsi256_ps(_mm256_slli_epi32(raw1, 16));
    const __m256 odd1 = _mm256_castsi256_ps(_mm256_and_si256(raw1, high));
    const float* x0 = xT + (2 * k2) * 16 + r0;
    const float* x1 = x0 + 16;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 b0 = _mm256_set1_ps(x0[r]), b1 = _mm256_set1_ps(x1[r]);
      acc[r][0] = _mm256_fmadd_ps(b1, odd0, _mm256_fmadd_ps(b0, even0, acc[r][0]));
      acc[r][1] = _mm256_fmadd_ps(b1, odd1, _mm256_fmadd_ps(b0, even1, acc[r][1]));
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(tile + (r0 + r) * 16, acc[r][0]);
    _mm256_storeu_ps(tile + (r0 + r) * 16 + 8, acc[r][1]);
  }
}

template <int R>
void rows_avx2(const uint16_t* w, const float* xT, int r0, int64_t k0, int64_t k1, bool first, float* tile) {
  if constexpr (R > 0) panel_rows_avx2<R>(w, xT, r0, k0, k1, first, tile);
}

void bf16_panels_avx2(const float* xT, const uint16_t* panels, float* y, int64_t M, int64_t K2, int64_t N, int64_t p0,
                 int64_t p1) {
  float tile[16 * 16];
  for (int64_t p = p0; p < p1; ++p) {
    const uint16_t* w = panels + p * K2 * kPair;
    std::fill(tile, tile + 16 * 16, 0.0f);
    for (int64_t k0 = 0; k0 < K2; k0 += kBlockPairs) {
      const int64_t k1 = std::min(K2, k0 + kBlockPairs);
      for (int r0 = 0; r0 < M; r0 += 4) {
        switch (std::min<int64_t>(4, M - r0)) {
          case 1: rows_avx2<1>(w, xT, r0, k0, k1, r0 == 0, tile); break;
          case 2: rows_avx2<2>(w, xT, r0, k0, k1, r0 == 0, tile); break;
          case 3: rows_avx2<3>(w, xT, r0, k0, k1, r0 == 0, tile); break;
          default: rows_avx2<4>(w, xT, r0, k0, k1, r0 == 0, tile); break;
        }
      }
    }
    const int64_t n0 = p * 16, cols = std::min<int64_t>(16, N - n0);
    for (int64_t r = 0; r < M; ++r) std::memcpy(y + r * N + n0, tile + r * 16, cols * sizeof(float));
  }
}

float bf16_to_float(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// No AVX2: the same sums as loops.
void bf16_panels_plain(const float* xT, const uint16_t* panels, float* y, int64_t M, int64_t K2, int64_t N, int64_t p0,
                  int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    const uint16_t* w = panels + p * K2 * kPair;
    const int64_t n0 = p * 16, cols = std::min<int64_t>(16, N - n0);
    for (int64_t r = 0; r < M; ++r)
      for (int64_t j = 0; j < cols; ++j) {
        float s = 0;
        for (int64_t k2 = 0; k2 < K2; ++k2)
          s += xT[(2 * k2) * 16 + r] * bf16_to_float(w[k2 * kPair + 2 * j]) +
               xT[(2 * k2 + 1) * 16 + r] * bf16_to_float(w[k2 * kPair + 2 * j + 1]);
        y[r * N + n0 + j] = s;
      }
  }
}

uint16_t bf16_bits(float f) { return c10::BFloat16(f).x; }  // round to nearest even

// One row of n sums y, in place: + bias b, GELU, + residual r (b, r may be null).
void epilogue_row_plain(float* y, const float* b, bool gelu, const float* r, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    float v = y[j] + (b ? b[j] : 0.0f);
    if (gelu) v = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    y[j] = v + (r ? r[j] : 0.0f);
  }
}

// The same, 8 columns at a time (the float32 kernels' vector GELU).
__attribute__((target("avx2,fma"))) void epilogue_row_avx2(float* y, const float* b, bool gelu, const float* r,
                                                           int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(y + j);
    if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + j));
    if (gelu) v = simd::gelu_tanh_ps(v);
    if (r) v = _mm256_add_ps(v, _mm256_loadu_ps(r + j));
    _mm256_storeu_ps(y + j, v);
  }
  epilogue_row_plain(y + j, b ? b + j : nullptr, gelu, r ? r + j : nullptr, n - j);
}

}  // namespace

at::Tensor pack_panels_bf16(const at::Tensor& w, bool w_is_out_by_in) {
  // One pass, bf16 bits copied (zero bits: 0.0).
  auto wb = w.to(at::kBFloat16).contiguous();
  const int64_t out = w_is_out_by_in ? wb.size(0) : wb.size(1), in = w_is_out_by_in ? wb.size(1) : wb.size(0);
  auto panels = at::empty({(out + 15) / 16, (in + 1) / 2, 16, 2}, wb.options());
  pack_column_panels<2>(reinterpret_cast<const uint16_t*>(wb.data_ptr<at::BFloat16>()), in, out, w_is_out_by_in,
                        reinterpret_cast<uint16_t*>(panels.data_ptr<at::BFloat16>()));
  return panels;
}

const char* few_rows_bf16_kernel() {
  const char* k = pinned_bf16_kernel.load();
  return k ? k : best_kernel();
}

void set_few_rows_bf16_kernel(const char* name) {
  if (name == nullptr) {
    pinned_bf16_kernel = nullptr;
    return;
  }
  const std::string n = name;
  if (n == "avx512bf16") {
    require(cpu_has_avx512bf16(), "few_rows_bf16: this CPU has no AVX512_BF16");
    pinned_bf16_kernel = "avx512bf16";
  } else if (n == "avx2") {
    require(simd::has_avx2_fma(), "few_rows_bf16: this CPU has no AVX2/FMA");
    pinned_bf16_kernel = "avx2";
  } else {
    require(n == "plain", "few_rows_bf16: unknown kernel '" + n + "'");
    pinned_bf16_kernel = "plain";
  }
}

at::Tensor few_rows_linear_bf16(const at::Tensor& x, const at::Tensor& panels, int64_t out, const at::Tensor& b,
                                const Epilogue& then) {
  const int64_t M = x.size(0), K = x.size(1), np = panels.size(0), K2 = panels.size(1);
  TORCH_CHECK(M <= kFewRowsMax && K2 == (K + 1) / 2 && panels.scalar_type() == at::kBFloat16,
              "few_rows_linear_bf16: shapes");
  TORCH_CHECK(!then.residual.defined() || then.residual.numel() == M * out, "few_rows_linear_bf16: residual shape");
  TORCH_CHECK(!b.defined() || b.scalar_type() == at::kBFloat16 || b.scalar_type() == at::kFloat,
              "few_rows_linear_bf16: bias dtype");
  const bool x_bf16 = x.scalar_type() == at::kBFloat16;
  // A bf16 x is read as it is: its bits are the pairs' halves, its widening exact.
  auto xc = x_bf16 ? x.contiguous() : x.to(at::kFloat).contiguous();
  const at::BFloat16* xb = x_bf16 ? xc.data_ptr<at::BFloat16>() : nullptr;
  const float* xf = x_bf16 ? nullptr : xc.data_ptr<float>();
  auto x_at = [&](int64_t i) { return xb ? static_cast<float>(xb[i]) : xf[i]; };
  const std::string kernel = few_rows_bf16_kernel();
  const uint16_t* wp = reinterpret_cast<const uint16_t*>(panels.data_ptr<at::BFloat16>());
  auto y32 = at::empty({M, out}, x.options().dtype(at::kFloat));
  float* yp = y32.data_ptr<float>();
  std::vector<uint32_t> pairs;
  std::vector<float> xT;
  if (kernel == "avx512bf16") {
    pairs.assign(K2 * 16, 0);  // rows beyond M and k beyond K: zero
    for (int64_t r = 0; r < M; ++r) {
      if (xb && K % 2 == 0) {
        // Little-endian: the 4 bytes at x[r][2 k2] already are the pair (x[2 k2] low, x[2 k2 + 1] high).
        const at::BFloat16* row = xb + r * K;
        for (int64_t k2 = 0; k2 < K2; ++k2) std::memcpy(&pairs[k2 * 16 + r], row + 2 * k2, sizeof(uint32_t));
        continue;
      }
      for (int64_t k = 0; k < K; ++k) {
        const uint16_t bits = xb ? xb[r * K + k].x : bf16_bits(xf[r * K + k]);
        pairs[(k / 2) * 16 + r] |= static_cast<uint32_t>(bits) << (16 * (k % 2));
      }
    }
  } else {
    xT.assign(2 * K2 * 16, 0.0f);  // x transposed to [2 K2, 16], zero-padded
    for (int64_t r = 0; r < M; ++r)
      for (int64_t k = 0; k < K; ++k) xT[k * 16 + r] = x_at(r * K + k);
  }
  auto run = kernel == "avx2" ? bf16_panels_avx2 : bf16_panels_plain;
  // Bias, GELU and residual in float32 on each thread's own columns while they
  // are in cache, then one rounding to x's dtype: no separate pass, no copies of
  // b and the residual.
  auto bc = b.defined() ? b.contiguous() : b;
  auto rc = then.residual.defined() ? then.residual.reshape({M, out}).contiguous() : at::Tensor();
  TORCH_CHECK(!rc.defined() || rc.scalar_type() == at::kBFloat16 || rc.scalar_type() == at::kFloat,
              "few_rows_linear_bf16: residual dtype");
  auto y = x_bf16 ? at::empty({M, out}, x.options()) : y32;
  at::BFloat16* yb = x_bf16 ? y.data_ptr<at::BFloat16>() : nullptr;
  const bool gelu = then.gelu_tanh, avx2 = simd::has_avx2_fma();
  at::parallel_for(0, np, 4, [&](int64_t p0, int64_t p1) {
    if (kernel == "avx512bf16") panels_dpbf16(pairs.data(), wp, yp, M, K2, out, p0, p1);
    else run(xT.data(), wp, yp, M, K2, out, p0, p1);
    const int64_t c0 = p0 * 16, n = std::min(p1 * 16, out) - c0;
    std::vector<float> bw, rw;
    auto as_float = [&](const at::Tensor& t, int64_t at_, std::vector<float>& wide) -> const float* {
      if (t.scalar_type() == at::kFloat) return t.data_ptr<float>() + at_;
      wide.resize(n);
      widen_bf16(t.data_ptr<at::BFloat16>() + at_, wide.data(), n);
      return wide.data();
    };
    const float* bp = bc.defined() ? as_float(bc, c0, bw) : nullptr;
    for (int64_t r = 0; r < M; ++r) {
      float* row = yp + r * out + c0;
      const float* rp = rc.defined() ? as_float(rc, r * out + c0, rw) : nullptr;
      (avx2 ? epilogue_row_avx2 : epilogue_row_plain)(row, bp, gelu, rp, n);
      if (yb) round_to_bf16(row, yb + r * out + c0, n);
    }
  });
  return y;
}

}  // namespace r4j
