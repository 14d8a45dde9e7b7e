// Masked reductions over response tokens (TRL's masked_mean / masked_var /
// masked_whiten): prompt, padding and post-EOS positions never count.
#pragma once

#include <ATen/ATen.h>

#include "../collective.hpp"

namespace r4j {

// sum(x * mask) / sum(mask); mask is float (1 = counts). Scalar tensor.
inline at::Tensor masked_mean(const at::Tensor& x, const at::Tensor& mask) {
  return (x * mask).sum() / mask.sum();
}

// Variance over the masked entries; unbiased (Bessel's n / (n - 1)) by default.
inline at::Tensor masked_var(const at::Tensor& x, const at::Tensor& mask, bool unbiased = true) {
  auto mean = masked_mean(x, mask);
  auto var = masked_mean((x - mean).pow(2), mask);
  if (unbiased) {
    auto n = mask.sum();
    var = var * n / (n - 1);
  }
  return var;
}

// (x - mean) / sqrt(var + 1e-8) over the masked entries of the whole batch:
// mean and (unbiased) variance are taken over every rank's entries, so all
// ranks whiten alike. Masked-out entries are 0.
inline at::Tensor masked_whiten(const at::Tensor& x, const at::Tensor& mask) {
  auto n = all_ranks_sum(mask.sum());
  auto mean = all_ranks_sum((x * mask).sum()) / n;
  auto var = all_ranks_sum(((x - mean).pow(2) * mask).sum()) / (n - 1);
  return (x - mean) * at::rsqrt(var + 1e-8) * mask;
}

}  // namespace r4j
