// Choosing the next token: temperature, top-k and top-p (nucleus) filtering,
// and a seeded draw that gives the same tokens on every device.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace r4j {

// Keeps the k largest logits per row (others -> -inf); k <= 0 keeps all.
at::Tensor top_k_filter(const at::Tensor& logits, int64_t k);

// Keeps per row the smallest set of most likely tokens whose probability
// reaches p (always at least one); p >= 1 keeps all.
at::Tensor top_p_filter(const at::Tensor& logits, double p);

// Uniforms in (0, 1] from gen (a CPU generator), one per row: [B, 1] float32
// on device. Every draw below inverts a CDF at them, so a seed gives the same
// tokens on every device.
at::Tensor uniforms(int64_t B, at::Generator& gen, at::Device device);

// Per-sample uniforms in (0, 1] for decoding step `step`: row b's value is a
// function of (row_seeds[b], step) alone (SplitMix64), so a sample does not
// depend on the batch or the rank it is drawn in. [B, 1] float32 on device.
at::Tensor row_uniforms(const std::vector<uint64_t>& row_seeds, int64_t step, at::Device device);

// Draws one token per row from softmax(logits) [B, V] by inverting the CDF at
// uniforms drawn from gen: [B] int64 on the logits' device.
at::Tensor sample_from_logits(const at::Tensor& logits, at::Generator& gen);

// The same draw from probabilities [B, V] at given uniforms u [B, 1].
at::Tensor sample_from_probs(const at::Tensor& probs, const at::Tensor& u);

// One decoding step's draw without filtering: a token per row from
// softmax(logits / temperature) at uniforms u [B, 1], and its log-prob under
// that softmax. logits [B, V] float32.
struct Draw {
  at::Tensor token;    // [B] int64
  at::Tensor logprob;  // [B] float32
};
// Float32 logits on the CPU take a fused kernel (one pass for the maximum, one
// for the normaliser, a partial one for the CDF); the rest the ATen formula.
Draw draw_tokens(const at::Tensor& logits, double temperature, const at::Tensor& u);
// The ATen formula: log_softmax, exp, cumsum, searchsorted. The slow twin.
Draw draw_tokens_reference(const at::Tensor& logits, double temperature, const at::Tensor& u);
// Tests switch the fused kernel off to compare it with the reference.
void set_fast_sampling(bool on);

}  // namespace r4j
