#include "attention.hpp"

#include <ATen/Dispatch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace r4j {

at::Tensor attention_bias(const at::Tensor& key_mask, int64_t offset, int64_t T,
                          at::ScalarType dtype) {
  const int64_t S = key_mask.size(1);
  auto opts = at::TensorOptions().device(key_mask.device()).dtype(at::kLong);
  auto query_pos = at::arange(offset, offset + T, opts).unsqueeze(1);  // [T, 1]
  auto key_pos = at::arange(0, S, opts).unsqueeze(0);                   // [1, S]
  auto causal = key_pos.le(query_pos);                                  // [T, S]
  auto allowed = causal.unsqueeze(0).logical_and(key_mask.unsqueeze(1));  // [B, T, S]
  // The dtype's lowest finite value, torch.finfo(dtype).min as Hugging Face masks with:
  // -FLT_MAX overflows float16 and bfloat16 (whose largest finite value is below FLT_MAX).
  double lowest_value = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "attention_bias", [&] {
    lowest_value = static_cast<double>(std::numeric_limits<scalar_t>::lowest());
  });
  auto lowest = at::scalar_tensor(at::Scalar(lowest_value), at::TensorOptions().device(key_mask.device()).dtype(dtype));
  auto zero = at::zeros({}, lowest.options());
  return at::where(allowed, zero, lowest).unsqueeze(1);  // [B, 1, T, S]
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& bias, double dropout_p) {
  auto kk = k, vv = v;
  const int64_t groups = q.size(1) / k.size(1);
  if (groups > 1) {  // grouped-query attention: each kv head serves `groups` query heads
    kk = k.repeat_interleave(groups, 1);
    vv = v.repeat_interleave(groups, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  // libtorch 2.x: the fused kernels (flash / memory-efficient attention) on GPUs.
  if (q.is_cuda()) return at::scaled_dot_product_attention(q, kk, vv, bias, dropout_p, /*is_causal=*/false);
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, kk.transpose(-2, -1)).mul_(scale).add_(bias);  // [B, nh, T, S]
  auto probs = at::softmax(scores, -1);
  if (dropout_p > 0) probs = at::dropout(probs, dropout_p, /*train=*/true);
  return at::matmul(probs, vv);  // [B, nh, T, hd]
}

}  // namespace r4j
