// The chunked attention's softmax over a chunk's scores, row by row: ATen's
// formula (scale, add the mask's bias, max, subtract, exp, sum, divide) makes
// six passes over a [B, nh, n, S] scores tensor that is far larger than the
// caches (88 MB for a GRPO scoring pass of 56 rows x 384 positions); these
// kernels make the row's passes while it stays in L1. ATen's formula is their
// slow twin (attention.cpp), switched to by set_fast_attention_softmax(false).
// They run on simd::elementwise_isa().
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// Whether the kernels take these: float32 CPU scores [B, nh, n, S] contiguous,
// bias float32 [B, 1, n or 1, S] with unit stride along S.
bool attention_softmax_applies(const at::Tensor& scores, const at::Tensor& bias);
void set_fast_attention_softmax(bool on);

// Each row's softmax statistics m and z, [B, nh, rows, 1] (float32 at least): what
// backward recomputes the probabilities from.
struct SoftmaxStats {
  at::Tensor max, sum;
};

// In place: P = softmax(scores * scale + bias) along S; returns each row's
// max m of scores * scale + bias and z = sum exp(. - m).
SoftmaxStats attention_softmax_(const at::Tensor& scores, const at::Tensor& bias, double scale);

// In place: P = exp(scores * scale + bias - m) / z, the probabilities again
// from a forward pass's statistics (m, z [B, nh, n, 1], any strides).
void attention_probs_(const at::Tensor& scores, const at::Tensor& bias, double scale, const at::Tensor& m,
                      const at::Tensor& z);

}  // namespace r4j
