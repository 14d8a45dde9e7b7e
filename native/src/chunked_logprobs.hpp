// The LM head, log-softmax, gathered log-prob and entropy in chunks of rows,
// forward and backward, so no [rows, vocab] tensor larger than one chunk
// exists: the backward pass recomputes a chunk's logits from the saved hidden
// states (a custom autograd function), all but the last chunk's, which forward
// keeps. The unchunked path (gather_logprobs
// over the full logits) is its slow twin.
#pragma once

#include <ATen/ATen.h>

#include "model.hpp"

namespace r4j {

struct HeadScores {
  at::Tensor logprobs;  // [...]: log softmax(h W^T / temperature) at targets
  at::Tensor entropy;   // [...]: entropy of that distribution (undefined unless asked)
};

// h [..., d] (the states that predict targets), targets [...] int64. The
// entropy is detached unless entropy_grad. chunk = rows per chunk, 0 = the
// unchunked path. Outputs are float32 (float64 for float64 models).
HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, int64_t chunk);

// Same with the model's own chunk setting (memory().logits_chunk).
HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad);

// Whether forward keeps the last chunk's logits for backward (default on); off,
// backward recomputes every chunk: the slow twin tests compare with.
void set_keep_last_logits(bool on);

// Without gradients: per row, log p_ref(target) and, when h_policy is
// defined, KL(policy || ref) over the vocabulary, chunk rows at a time.
// h_ref, h_policy [..., d]; targets [...].
struct RefScores {
  at::Tensor ref_logprobs;  // [...]
  at::Tensor full_kl;       // [...] (undefined without a policy)
};
RefScores ref_scores(const Model& ref, const at::Tensor& h_ref, const Model* policy, const at::Tensor& h_policy,
                     const at::Tensor& targets, double temperature);

}  // namespace r4j
