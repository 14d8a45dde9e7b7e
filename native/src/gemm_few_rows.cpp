#include "gemm_few_rows.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined_ps idiom of masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "errors.hpp"
#include "simd.hpp"

namespace r4j {

namespace {

bool cpu_has_avx512f() {
  static const bool yes = R4J_CPU_SUPPORTS_AVX512("avx512f");
  return yes;
}

std::atomic<const char*> pinned_kernel{nullptr};

// A kernel's name as few_rows_kernel() answers it, checked against this CPU;
// who names it ("few_rows", "RLHF4J_DECODE_KERNEL") leads the error.
const char* checked_kernel(const std::string& n, const std::string& who) {
  require(n == "avx2" || n == "avx512", who + ": unknown kernel '" + n + "' (avx2 or avx512)");
  if (n == "avx512") {
    require(cpu_has_avx512f(), who + ": this CPU has no AVX-512F");
    return "avx512";
  }
  require(simd::has_avx2_fma(), who + ": this CPU has no AVX2/FMA");
  return "avx2";
}

// RLHF4J_DECODE_KERNEL=avx2|avx512 pins the kernel for the process, so a benchmark
// can time the AVX2 kernel on a CPU that also has AVX-512 (read once).
const char* env_kernel() {
  static const char* k = [] () -> const char* {
    const char* v = std::getenv("RLHF4J_DECODE_KERNEL");
    return v == nullptr || *v == 0 ? nullptr : checked_kernel(v, "RLHF4J_DECODE_KERNEL");
  }();
  return k;
}

}  // namespace

const char* few_rows_kernel() {
  if (const char* k = pinned_kernel.load()) return k;
  if (const char* k = env_kernel()) return k;
  if (cpu_has_avx512f()) return "avx512";
  return simd::has_avx2_fma() ? "avx2" : nullptr;
}

bool few_rows_available() { return few_rows_kernel() != nullptr; }

void set_few_rows_kernel(const char* name) {
  pinned_kernel = name == nullptr ? nullptr : checked_kernel(name, "few_rows");
}

namespace {

// One panel p by the definition, element by element: the twin, and the path of
// the zero-padded panels.
template <int64_t Group, typename T>
void pack_panel_reference(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, int64_t p, T* dst) {
  const int64_t K = (in + Group - 1) / Group;
  for (int64_t kg = 0; kg < K; ++kg)
    for (int64_t j = 0; j < 16; ++j)
      for (int64_t t = 0; t < Group; ++t) {
        const int64_t n = 16 * p + j, k = Group * kg + t;
        dst[((p * K + kg) * 16 + j) * Group + t] =
            n < out && k < in ? src[w_is_out_by_in ? n * in + k : k * out + n] : T{0};
      }
}

// A panel without padding (16 columns, in a multiple of Group), with fixed trip
// counts the compiler vectorises: a generation packs every weight (config B: 51M
// values), and the element-by-element loop took ~90 ms of a float32 rollout.
template <int64_t Group, typename T>
void pack_full_panel(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, int64_t p, T* dst) {
  const int64_t K = in / Group;
  T* d = dst + p * K * 16 * Group;
  if (w_is_out_by_in) {
    // 16 rows of src, each contiguous in k, transposed: each kg writes one contiguous
    // run of 16 Group values, reading the 16 rows' lines from L1 after the first kg.
    const T* rows = src + 16 * p * in;
    for (int64_t kg = 0; kg < K; ++kg)
      for (int64_t j = 0; j < 16; ++j)
        for (int64_t t = 0; t < Group; ++t) d[(kg * 16 + j) * Group + t] = rows[j * in + kg * Group + t];
  } else {
    // Group rows of src per kg, 16 contiguous columns each, interleaved.
    const T* cols = src + 16 * p;
    for (int64_t kg = 0; kg < K; ++kg)
      for (int64_t t = 0; t < Group; ++t) {
        const T* line = cols + (kg * Group + t) * out;
        for (int64_t j = 0; j < 16; ++j) d[(kg * 16 + j) * Group + t] = line[j];
      }
  }
}

}  // namespace

template <int64_t Group, typename T>
void pack_column_panels(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, T* dst) {
  const int64_t np = (out + 15) / 16;
  at::parallel_for(0, np, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      if (16 * (p + 1) <= out && in % Group == 0) {
        pack_full_panel<Group>(src, in, out, w_is_out_by_in, p, dst);
      } else {
        pack_panel_reference<Group>(src, in, out, w_is_out_by_in, p, dst);
      }
    }
  });
}
template void pack_column_panels<1, float>(const float*, int64_t, int64_t, bool, float*);
template void pack_column_panels<2, uint16_t>(const uint16_t*, int64_t, int64_t, bool, uint16_t*);

template <int64_t Group, typename T>
void pack_column_panels_reference(const T* src, int64_t in, int64_t out, bool w_is_out_by_in, T* dst) {
  for (int64_t p = 0; p < (out + 15) / 16; ++p) pack_panel_reference<Group>(src, in, out, w_is_out_by_in, p, dst);
}
template void pack_column_panels_reference<1, float>(const float*, int64_t, int64_t, bool, float*);
template void pack_column_panels_reference<2, uint16_t>(const uint16_t*, int64_t, int64_t, bool, uint16_t*);

at::Tensor pack_panels(const at::Tensor& w, bool w_is_out_by_in) {
  // One pass (a generation packs every weight once: the LM head's [vocab, d] too).
  auto wf = w.to(at::kFloat).contiguous();
  const int64_t out = w_is_out_by_in ? wf.size(0) : wf.size(1), in = w_is_out_by_in ? wf.size(1) : wf.size(0);
  auto panels = at::empty({(out + 15) / 16, in, 16}, wf.options());
  pack_column_panels<1>(wf.data_ptr<float>(), in, out, w_is_out_by_in, panels.data_ptr<float>());
  return panels;
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

// The AVX2 kernel's k-block: 256 k of a panel, 16 KiB, held in L1 while every row group reads it.
constexpr int64_t kBlock = 256;

// AVX2 + FMA: R rows (R <= 6: 2R accumulators of 8 columns, the panel's two
// weight vectors and a broadcast fit the 16 registers) of one panel over
// k in [k0, k1), accumulating into tile [16, 16]. The first row group streams
// the block from memory, prefetching 2 KiB ahead; the next ones re-read it from L1
// and meanwhile prefetch the next block into L2.
template <int R>
__attribute__((target("avx2,fma"))) void panel_rows_avx2(const float* w, const float* xT, int r0, int64_t k0,
                                                         int64_t k1, bool prefetch, float* tile) {
  constexpr int64_t ahead = 32 * 16;
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm256_loadu_ps(tile + (r0 + r) * 16);
    acc[r][1] = _mm256_loadu_ps(tile + (r0 + r) * 16 + 8);
  }
  for (int64_t k = k0; k < k1; ++k) {
    if (prefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(w + k * 16 + ahead), _MM_HINT_T0);
    } else {  // the next block into L2, so memory stays busy while this group computes
      _mm_prefetch(reinterpret_cast<const char*>(w + (k + kBlock) * 16), _MM_HINT_T1);
    }
    const __m256 w0 = _mm256_loadu_ps(w + k * 16), w1 = _mm256_loadu_ps(w + k * 16 + 8);
    const float* xk = xT + k * 16 + r0;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 xr = _mm256_set1_ps(xk[r]);
      acc[r][0] = _mm256_fmadd_ps(xr, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xr, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(tile + (r0 + r) * 16, acc[r][0]);
    _mm256_storeu_ps(tile + (r0 + r) * 16 + 8, acc[r][1]);
  }
}

template <int R>
void rows_avx2(const float* w, const float* xT, int r0, int64_t k0, int64_t k1, bool prefetch, float* tile) {
  if constexpr (R > 0) panel_rows_avx2<R>(w, xT, r0, k0, k1, prefetch, tile);
}

// Row r's 16 sums of panel p plus bias, GELU, residual, stored to y's valid columns.
__attribute__((target("avx2,fma"))) void epilogue_avx2(const float* sums, const float* bias, bool gelu,
                                                       const float* residual, float* y, int64_t cols) {
  float row[16], add[16] = {};
  if (residual) std::memcpy(add, residual, cols * sizeof(float));
  for (int h = 0; h < 2; ++h) {
    __m256 v = _mm256_add_ps(_mm256_loadu_ps(sums + 8 * h), _mm256_loadu_ps(bias + 8 * h));
    if (gelu) v = simd::gelu_tanh_ps(v);
    _mm256_storeu_ps(row + 8 * h, _mm256_add_ps(v, _mm256_loadu_ps(add + 8 * h)));
  }
  std::memcpy(y, row, cols * sizeof(float));
}

// Panels [p0, p1) for M rows in groups of six, k in blocks of kBlock.
void panels_avx2(const float* xT, const float* panels, const float* bias, bool gelu, const float* residual,
                 float* y, int64_t M, int64_t K, int64_t N, int64_t p0, int64_t p1) {
  float tile[16 * 16];
  for (int64_t p = p0; p < p1; ++p) {
    const float* w = panels + p * K * 16;
    std::fill(tile, tile + 16 * 16, 0.0f);
    for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
      const int64_t k1 = std::min(K, k0 + kBlock);
      for (int r0 = 0; r0 < M; r0 += 6) {
        const bool first = r0 == 0;
        switch (std::min<int64_t>(6, M - r0)) {
          case 1: rows_avx2<1>(w, xT, r0, k0, k1, first, tile); break;
          case 2: rows_avx2<2>(w, xT, r0, k0, k1, first, tile); break;
          case 3: rows_avx2<3>(w, xT, r0, k0, k1, first, tile); break;
          case 4: rows_avx2<4>(w, xT, r0, k0, k1, first, tile); break;
          case 5: rows_avx2<5>(w, xT, r0, k0, k1, first, tile); break;
          default: rows_avx2<6>(w, xT, r0, k0, k1, first, tile); break;
        }
      }
    }
    const int64_t n0 = p * 16, cols = std::min<int64_t>(16, N - n0);
    float b[16] = {};
    if (bias) std::memcpy(b, bias + n0, cols * sizeof(float));
    for (int64_t r = 0; r < M; ++r)
      epilogue_avx2(tile + r * 16, b, gelu, residual ? residual + r * N + n0 : nullptr, y + r * N + n0, cols);
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
  const char* kernel = few_rows_kernel();
  TORCH_CHECK(kernel != nullptr, "few_rows_linear: this CPU has neither AVX-512F nor AVX2/FMA");
  auto run = std::string(kernel) == "avx512" ? panels_kernel : panels_avx2;
  at::parallel_for(0, np, 4, [&](int64_t p0, int64_t p1) {
    run(xT.data(), panels.data_ptr<float>(), bias, then.gelu_tanh, residual, y.data_ptr<float>(), M, K, out, p0, p1);
  });
  return y;
}

}  // namespace r4j
