// Scoring passes over given sequences: per-token log-probs, entropies and
// critic values, and reward-model scores. They run under whatever grad mode
// the caller set, so the PPO losses use them too.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "length_groups.hpp"
#include "model.hpp"

namespace r4j {

// Position ids counting real tokens only: cumsum(mask) - 1, clamped at 0.
// mask [B, T] bool -> [B, T] int64. Left padding then leaves positions alone.
at::Tensor positions_from_mask(const at::Tensor& mask);

struct TokenScores {
  at::Tensor logprobs;  // [B, n]: log p(token | prefix) under logits / temperature
  at::Tensor entropy;   // [B, n]: entropy of that predictive distribution
  at::Tensor values;    // [B, n]: the critic's value of the state that predicts the token
  at::Tensor mean_logits;  // [B, n] with request.mean_logits
};

struct ScoreRequest {
  double temperature = 1.0;
  bool logprobs = true;
  bool entropy = false;
  bool values = false;
  bool entropy_grad = false;  // differentiate the entropy (an entropy bonus); else it is a metric only
  // [B, n] bool: the heads see only these positions (the real response tokens), the
  // others read 0; undefined = every position.
  at::Tensor only;
  // The loss the caller will differentiate, as a function of the log-probs and
  // entropy alone, token by token (see HeadLoss): given, the LM head forms its
  // gradients in forward instead of recomputing its logits in backward.
  std::function<at::Tensor(const TokenScores&)> loss;
  // Also each position's mean logit over the vocabulary, h . mean_v(W_v) (TRL's
  // logits/* metrics), detached: no [rows, vocab] tensor needed.
  bool mean_logits = false;
};

// The positions of a [B, n] grid where only is set (every one when only is
// undefined): pick takes them from [B, n, ...] ([k, ...]); spread puts values
// [k] back on [B, n] with zeros elsewhere (differentiable).
class ScoredPositions {
 public:
  explicit ScoredPositions(const at::Tensor& only);
  // Given positions: index [k] int64 into the flattened [B, n] grid, in any order.
  ScoredPositions(at::Tensor index, int64_t B, int64_t n);
  at::Tensor pick(const at::Tensor& t) const;
  at::Tensor spread(const at::Tensor& values) const;

 private:
  int64_t B_ = 0, n_ = 0;
  at::Tensor index_;  // [k] int64 into B * n; undefined = all
};

// Scores tokens[:, start : start+n] (start >= 1) given the tokens before them,
// with one forward pass over tokens [B, T] and mask [B, T] (bool).
TokenScores score_tokens(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start,
                         int64_t n, const ScoreRequest& request);

// The same over a batch run as several passes (length_groups.hpp): each pass
// takes its rows, cropped to their last `prompt` columns before start and first
// `response` columns from it, through the model; the heads see every pass's
// request.only positions (required; false outside its window) in one call, so a
// loss over all of them still forms the head's gradients in forward. The values
// are those of one pass over the whole batch, summed in other orders. No passes:
// that one pass.
struct TokenPass {
  at::Tensor rows;           // [g] int64: rows of tokens
  int64_t prompt, response;  // p <= start, r <= n
};
TokenScores score_tokens(Model& model, const at::Tensor& tokens, const at::Tensor& mask, int64_t start,
                         int64_t n, const ScoreRequest& request, const std::vector<TokenPass>& passes);

// The passes of like length over rows that keep prompt[b] columns before the
// scored window and response[b] from its start ([B] int64, each >= 1), at the
// pass cost of the model's width (pass_positions_at): empty when one pass over
// every row is the cheapest (the plain score_tokens then).
std::vector<TokenPass> like_length_passes(const Model& model, const at::Tensor& prompt, const at::Tensor& response);
// Their groups.
std::vector<LengthGroup> like_length_groups(const Model& model, const at::Tensor& prompt, const at::Tensor& response);
// The same for whole sequences [B, T] with the window from column 1, each row
// kept up to its last column where keep [B, T] is set (causal attention: later
// columns change nothing before them).
std::vector<TokenPass> sequence_passes(const Model& model, const at::Tensor& keep);

// Reward head at each sequence's last real token: [B]; rows of like length in
// passes of their own (sequence_passes).
at::Tensor reward_scores(Model& model, const at::Tensor& tokens, const at::Tensor& mask);

}  // namespace r4j
