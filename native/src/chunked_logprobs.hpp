// The LM head, log-softmax, gathered log-prob and entropy in chunks of rows,
// forward and backward, so no [rows, vocab] tensor larger than one chunk
// exists: the backward pass recomputes a chunk's logits from the saved hidden
// states (a custom autograd function), all but the last chunk's, which forward
// keeps; or, given the caller's loss, forward forms the gradient products while
// each chunk's logits are at hand and recomputes none. The unchunked path
// (gather_logprobs over the full logits) is its slow twin.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "model.hpp"

namespace r4j {

struct HeadScores {
  at::Tensor logprobs;  // [...]: log softmax(h W^T / temperature) at targets
  at::Tensor entropy;   // [...]: entropy of that distribution (undefined unless asked)
};

// The scalar the caller will differentiate (times whatever scale it applies), as a
// function of the head's log-probs and entropy [...] (undefined without entropy),
// where each token's gradient depends on that token's scores only (PPO's token
// losses and their aggregations; not GSPO's sequence ratio). Scores not yet
// computed read 0. Its own graph may be built anew on each call.
using HeadLoss = std::function<at::Tensor(const at::Tensor& logprobs, const at::Tensor& entropy)>;

// h [..., d] (the states that predict targets), targets [...] int64. The
// entropy is detached unless entropy_grad. chunk = rows per chunk, 0 = the
// unchunked path. Outputs are float32 (float64 for float64 models). With loss,
// the chunked path asks it for each chunk's output gradients in forward and forms
// the head's gradients there; backward returns them when the gradients it
// receives are those, bitwise, and recomputes the chunks otherwise.
HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, int64_t chunk, const HeadLoss& loss = {});

// Same with the model's own chunk setting (memory().logits_chunk).
HeadScores head_logprobs(const Model& model, const at::Tensor& h, const at::Tensor& targets, double temperature,
                         bool entropy, bool entropy_grad, const HeadLoss& loss = {});

// Whether forward keeps the last chunk's logits for backward (default on); off,
// backward recomputes every chunk: the slow twin tests compare with.
void set_keep_last_logits(bool on);

// Whether a given loss lets forward form the head's gradients (default on); off,
// backward recomputes the chunks as without a loss: the twin tests compare with.
void set_head_gradient_in_forward(bool on);

// How many backward passes returned the gradients formed in forward (tests).
int64_t head_gradients_from_forward();

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
