#include "bf16_convert.hpp"

// GCC 12 warns inside its own avx512fintrin.h (the _mm512_undefined idiom of its masked operations).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <ATen/Parallel.h>

#include <algorithm>

#include "simd.hpp"

namespace r4j {
namespace {

void widen_plain(const c10::BFloat16* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

void round_plain(const float* src, c10::BFloat16* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = c10::BFloat16(src[i]);
}

__attribute__((target("avx2,fma"))) void widen_avx2(const c10::BFloat16* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, widen8_bf16(src + i));
  widen_plain(src + i, dst + i, n - i);
}

__attribute__((target("avx2,fma"))) void round_avx2(const float* src, c10::BFloat16* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) round8_to_bf16(_mm256_loadu_ps(src + i), dst + i);
  round_plain(src + i, dst + i, n - i);
}

__attribute__((target("avx512f"))) void widen_avx512(const c10::BFloat16* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  widen_plain(src + i, dst + i, n - i);
}

__attribute__((target("avx512f"))) void round_avx512(const float* src, c10::BFloat16* dst, int64_t n) {
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), qnan = _mm512_set1_epi32(0x7fc0);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(src + i);
    const __m512i b = _mm512_castps_si512(x);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(b, bias), odd), 16);
    r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, qnan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(r));
  }
  round_plain(src + i, dst + i, n - i);
}

}  // namespace

void widen_bf16(const c10::BFloat16* src, float* dst, int64_t n) {
  switch (simd::elementwise_isa()) {
    case simd::Isa::avx512: return widen_avx512(src, dst, n);
    case simd::Isa::avx2: return widen_avx2(src, dst, n);
    default: return widen_plain(src, dst, n);
  }
}

void round_to_bf16(const float* src, c10::BFloat16* dst, int64_t n) {
  switch (simd::elementwise_isa()) {
    case simd::Isa::avx512: return round_avx512(src, dst, n);
    case simd::Isa::avx2: return round_avx2(src, dst, n);
    default: return round_plain(src, dst, n);
  }
}

void round_through_bf16(float* x, int64_t n) {
  constexpr int64_t kBlock = 1024;  // on the stack as bf16, the float32 block stays in L1
  at::parallel_for(0, (n + kBlock - 1) / kBlock, 64, [&](int64_t b0, int64_t b1) {
    c10::BFloat16 rounded[kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i = b * kBlock, m = std::min(kBlock, n - i);
      round_to_bf16(x + i, rounded, m);
      widen_bf16(rounded, x + i, m);
    }
  });
}

}  // namespace r4j
