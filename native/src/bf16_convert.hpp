// bf16 <-> float32 over arrays, vectorized (simd::elementwise_isa() picks the
// kernel): a bf16 is a float32's upper half, and rounding is to nearest even
// with NaN kept quiet, as c10::BFloat16's constructor (the plain twin). For
// kernels that compute in float32 on blocks of a bf16 tensor.
#pragma once

#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <cstdint>

namespace r4j {

// Eight lanes of the same conversions, for kernels that fuse them into their own loop.
__attribute__((target("avx2,fma"))) inline __m256 widen8_bf16(const c10::BFloat16* src) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// bits + 0x7fff + (bit 16 of bits), upper half: to nearest, ties to even; NaN -> 0x7fc0.
__attribute__((target("avx2,fma"))) inline void round8_to_bf16(__m256 x, c10::BFloat16* dst) {
  const __m256i b = _mm256_castps_si256(x);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), odd), 16);
  r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7fc0), _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
  // 32-bit lanes holding 16-bit values to 8 packed uint16 (packus works within 128-bit halves).
  const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), packed);
}

void widen_bf16(const c10::BFloat16* src, float* dst, int64_t n);
void round_to_bf16(const float* src, c10::BFloat16* dst, int64_t n);
// x[i] = float(bf16(x[i])) in place: a float32 tensor's .to(bf16).to(float) values without
// either copy. Blocks of the array in parallel.
void round_through_bf16(float* x, int64_t n);

}  // namespace r4j
