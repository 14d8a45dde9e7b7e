// The feedback passes over a rollout: reference log-probs (and the full KL),
// old log-probs and values, reward-model scores. Its rows are scored in
// forward passes of similar lengths rather than one batch padded to the longest
// prompt and response (a GRPO rollout of ragged lengths is ~30% padding): rows
// sorted by their real tokens, cut where a pass would exceed kScoringTokens
// padded positions (at least one row per pass), each pass cropped to its rows'
// longest prompt (on the left: prompts are left-padded) and longest response;
// the heads see only real response tokens. Padding is masked, so the values are
// those of one padded pass, summed in other orders; set_scoring_tokens(0) is
// that pass, the slow twin tests compare.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model.hpp"
#include "rollout.hpp"
#include "scoring.hpp"

namespace r4j {

// Padded positions per forward pass: bounds the passes' activations as well.
constexpr int64_t kScoringTokens = 8192;

struct ScoringPass {
  at::Tensor rows;           // [g] int64: the rollout's rows
  int64_t prompt, response;  // p, r: the last p prompt columns and the first r response columns
  at::Tensor tokens, mask;   // [g, p + r]
  at::Tensor only;           // [g, r] bool: the real response tokens (undefined = all positions)
};

// max_tokens 0: one pass of every row, uncropped. Without max_tokens: the process's setting.
std::vector<ScoringPass> scoring_passes(const Rollout& ro, int64_t max_tokens);
std::vector<ScoringPass> scoring_passes(const Rollout& ro);
void set_scoring_tokens(int64_t max_tokens);  // kScoringTokens by default

// REF_LOGPROBS and, with a policy, FULL_KL = KL(policy || ref) over the vocabulary.
void score_reference(Model& ref, Model* policy, Rollout& ro, double temperature);
// The same with a LoRA policy's base (its adapters off) as the reference; the KL against the
// policy with its adapters on.
void score_reference_base(Model& policy, Rollout& ro, double temperature, bool full_kl);
// OLD_LOGPROBS (the decoding ones kept in SAMPLING_LOGPROBS) and/or OLD_VALUES, as request asks.
void score_old(Model& model, Rollout& ro, ScoreRequest request);
// SCORES: the reward head at each row's last real token.
void score_rewards(Model& reward_model, Rollout& ro);

}  // namespace r4j
