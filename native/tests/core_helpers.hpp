// Helpers for tests of the internals: tensors from literals, tiny models.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "model.hpp"
#include "test_helpers.hpp"

namespace r4j::test {

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

}  // namespace r4j::test
