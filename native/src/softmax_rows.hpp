// Log-softmax over the vocabulary, row by row: the learning phase's head runs
// a [rows, V] log_softmax forward and another (plus exp, mul, neg) backward,
// ATen's each a pass over memory of its own. These kernels keep one row
// (V floats) in the thread's cache for all of a row's passes and never write
// the log-probs out: the forward needs log-sum-exp and the target's logit,
// the backward one exp per logit. ATen's formulas are their slow twins
// (chunked_logprobs.cpp), switched to by set_fast_softmax_rows(false). They
// run on simd::elementwise_isa().
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// Whether the kernels take z: float32 or bf16 on the CPU, [n, V] contiguous. A bf16
// row is widened into a thread's buffer, so the kernels give the bits of z.to(float)
// (and the gradient those bits rounded once) without the [n, V] float32 copy.
bool softmax_rows_applies(const at::Tensor& z);
void set_fast_softmax_rows(bool on);
// Off: bf16 logits are not taken (the caller widens them first, the kernels' twin).
void set_bf16_softmax_rows(bool on);

struct RowLogSoftmax {
  at::Tensor logprobs;  // [n]: z[i, y_i] - logsumexp(z_i)
  at::Tensor entropy;   // [n]: -sum_j p_ij log p_ij (undefined unless asked)
};

// One row's pass over its V logits after the max m: s = sum_j e_j with
// e_j = exp(z_j - m), and zs = sum_j e_j (z_j - m) when asked (the entropy's
// term, taken from z - m so a row far from zero loses no digits to cancellation).
// With store, e_j replaces z_j. Logits of -inf (filtered-out tokens) have e_j = 0
// and add nothing to zs.
struct ExpSums {
  double s = 0, zs = 0;
};

// A row's max and its exp pass, on simd::elementwise_isa(): these kernels' and the
// attention softmax's (attention_softmax.cpp).
struct RowKernels {
  float (*max)(const float*, int64_t);
  ExpSums (*exp)(float*, int64_t, float, bool store, bool with_zs);
};
RowKernels row_kernels();

// z [n, V], targets [n] int64. The outputs are float32.
RowLogSoftmax row_log_softmax(const at::Tensor& z, const at::Tensor& targets, bool entropy);

// z [n, V] in place becomes g_i (onehot(y_i) - softmax(z_i)): the gradient of
// sum_i g_i log softmax(z_i)[y_i] with respect to z. g [n] float32. A bf16 z gets
// the float32 gradient rounded to nearest even.
void log_softmax_grad_(const at::Tensor& z, const at::Tensor& targets, const at::Tensor& g);

}  // namespace r4j
