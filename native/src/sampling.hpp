// Choosing the next token: temperature, top-k and top-p (nucleus) filtering,
// and a seeded draw that gives the same tokens on every device.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// Keeps the k largest logits per row (others -> -inf); k <= 0 keeps all.
at::Tensor top_k_filter(const at::Tensor& logits, int64_t k);

// Keeps per row the smallest set of most likely tokens whose probability
// reaches p (always at least one); p >= 1 keeps all.
at::Tensor top_p_filter(const at::Tensor& logits, double p);

// Draws one token per row from softmax(logits) [B, V] by inverting the CDF at
// uniforms drawn from gen (a CPU generator): [B] int64 on the logits' device.
at::Tensor sample_from_logits(const at::Tensor& logits, at::Generator& gen);

// The same draw from probabilities that already sum to 1 per row: [B, V] float32.
at::Tensor sample_from_probs(const at::Tensor& probs, at::Generator& gen);

}  // namespace r4j
