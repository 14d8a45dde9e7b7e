// AVX2/FMA building blocks for the CPU kernels of decoding. The library itself
// targets baseline x86-64, so each kernel checks has_avx2_fma() at run time and
// keeps a plain twin; these helpers carry their own target attribute.
#pragma once

#include <immintrin.h>

#include <atomic>

namespace r4j::simd {

inline bool has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

// RLHF4J_CPU_ISA=avx2 runs the library as on a CPU with AVX2 + FMA and no
// AVX-512 (so no AVX512_BF16 and no oneDNN bf16 products): every kernel choice
// below and in the few-row products asks this first, so benchmarks and tests
// time and check the AVX2 machine's paths on a CPU that has both (read once;
// ATen stops handing products to oneDNN, as on such a CPU; scripts/bench caps
// oneDNN, OpenBLAS and ATen's kernels alongside). Unset: the CPU's own.
bool avx512_allowed();

// __builtin_cpu_supports for the AVX-512 family, under the cap above.
#define R4J_CPU_SUPPORTS_AVX512(feature) (::r4j::simd::avx512_allowed() && __builtin_cpu_supports(feature))

// The learning phase's row and elementwise kernels (softmax_rows, gelu) run the
// widest of these the CPU has, unless pinned: tests pin each in turn.
enum class Isa { plain, avx2, avx512 };

inline std::atomic<int>& pinned_isa() {
  static std::atomic<int> isa{-1};
  return isa;
}

inline Isa elementwise_isa() {
  static const Isa best = R4J_CPU_SUPPORTS_AVX512("avx512f") ? Isa::avx512 : has_avx2_fma() ? Isa::avx2 : Isa::plain;
  const int pinned = pinned_isa().load();
  return pinned >= 0 ? static_cast<Isa>(pinned) : best;
}

// "avx512", "avx2" or "plain" (std::exp and friends); nullptr unpins. Throws for
// one this CPU does not run.
void pin_elementwise_isa(const char* name);

// exp(x) on 8 lanes: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by Cephes'
// degree-5 polynomial, 2^n through the exponent bits. Relative error about
// 2 ulp; x below about -87.9 (where n reaches -127) gives exactly 0, and so
// does -inf: a filtered-out token keeps probability 0.
__attribute__((target("avx2,fma"))) inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
  __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 in two parts: exact first product
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline float hmax_ps(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// GPT-2's GELU on 8 lanes, as gelu_tanh512_ps below.
__attribute__((target("avx2,fma"))) inline __m256 gelu_tanh_ps(__m256 u) {
  const __m256 u3 = _mm256_mul_ps(_mm256_mul_ps(u, u), u);
  const __m256 z = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), u3, u));
  const __m256 e = exp_ps(_mm256_add_ps(z, z));
  const __m256 t = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), u), _mm256_add_ps(_mm256_set1_ps(1.0f), t));
}

// The same exp on 16 lanes (AVX-512F).
__attribute__((target("avx512f"))) inline __m512 exp512_ps(__m512 x) {
  x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
  x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
  __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                  _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), x);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
  __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

// GPT-2's GELU, 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), with
// tanh(z) = 1 - 2 / (exp(2z) + 1): exact limits +-1 where exp saturates.
__attribute__((target("avx512f"))) inline __m512 gelu_tanh512_ps(__m512 u) {
  const __m512 u3 = _mm512_mul_ps(_mm512_mul_ps(u, u), u);
  const __m512 z = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), u3, u));
  const __m512 e = exp512_ps(_mm512_add_ps(z, z));
  const __m512 t = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), u), _mm512_add_ps(_mm512_set1_ps(1.0f), t));
}

}  // namespace r4j::simd
