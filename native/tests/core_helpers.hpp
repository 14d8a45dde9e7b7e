// Helpers for tests of the internals: tensors from literals, tiny models.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "generate.hpp"
#include "model.hpp"
#include "simd.hpp"
#include "test_helpers.hpp"

namespace r4j::test {

// The names simd::pin_elementwise_isa takes for the instruction sets this CPU runs.
inline std::vector<const char*> elementwise_isas_here() {
  std::vector<const char*> isas{"plain"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.push_back("avx2");
  if (R4J_CPU_SUPPORTS_AVX512("avx512f")) isas.push_back("avx512");
  return isas;
}

inline at::Tensor floats(std::vector<float> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kFloat).view(shape);
}

inline at::Tensor longs(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kLong).view(shape);
}

inline at::Tensor bools(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kLong).to(at::kBool).view(shape);
}

inline std::unique_ptr<Model> make(r4j_model_config c, int32_t dtype = R4J_DTYPE_F32) {
  c.dtype = dtype;
  return make_model(c, at::kCPU);
}

// Random tokens in [0, vocab): [B, T].
inline at::Tensor random_tokens(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(0, vocab, {B, T}, at::kLong);
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// Generation with a fast path switched off gives the same tokens, and
// log-probs and values within 1e-5.
inline void expect_generation_unchanged_without(void (*set_fast)(bool)) {
  auto c = tiny_gpt2();
  c.value_head = 1;
  auto m = make(c);
  auto prompts = random_tokens(3, 5, 48, 23);
  auto pmask = at::ones({3, 5}, at::kBool);
  auto o = gen_options(8, 0);
  o.with_values = 1;
  auto fast = generate(*m, prompts, pmask, o);
  set_fast(false);
  auto slow = generate(*m, prompts, pmask, o);
  set_fast(true);
  EXPECT_TRUE(at::equal(fast->response_tokens, slow->response_tokens));
  EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_LOGPROBS), slow->field(R4J_FIELD_OLD_LOGPROBS)), 1e-5);
  EXPECT_LT(max_abs_diff(fast->field(R4J_FIELD_OLD_VALUES), slow->field(R4J_FIELD_OLD_VALUES)), 1e-5);
}

}  // namespace r4j::test
