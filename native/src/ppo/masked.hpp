// Masked reductions over response tokens (TRL's masked_mean / masked_var /
// masked_whiten): prompt, padding and post-EOS positions never count.
#pragma once

#include <ATen/ATen.h>

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

// (x - mean) / sqrt(var + 1e-8) over the masked entries; masked-out entries are 0.
inline at::Tensor masked_whiten(const at::Tensor& x, const at::Tensor& mask) {
  auto mean = masked_mean(x, mask);
  auto var = masked_var(x, mask);
  return (x - mean) * at::rsqrt(var + 1e-8) * mask;
}

}  // namespace r4j
