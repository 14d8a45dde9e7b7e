// A rollout: prompts, sampled responses and every per-token quantity PPO
// needs, kept on the model's device between the phases.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <vector>

#include "rlhf4j.h"

namespace r4j {

struct Rollout {
  at::Device device = at::kCPU;
  int32_t pad_token_id = 0;
  at::Tensor query_tokens;     // [B, P] int64, left-padded
  at::Tensor query_mask;       // [B, P] bool
  at::Tensor response_tokens;  // [B, R] int64, right-padded
  at::Tensor response_mask;    // [B, R] bool: real tokens, EOS included
  at::Tensor ended;            // [B] bool: an EOS or stop token was generated
  std::map<int32_t, at::Tensor> floats;  // R4J_FIELD_OLD_LOGPROBS .. FULL_KL, GROUP_ID .. TURN_REWARDS, float32

  int64_t batch() const { return query_tokens.size(0); }
  int64_t query_len() const { return query_tokens.size(1); }
  int64_t response_len() const { return response_tokens.size(1); }

  at::Tensor tokens() const { return at::cat({query_tokens, response_tokens}, 1); }  // [B, P+R]
  at::Tensor mask() const { return at::cat({query_mask, response_mask}, 1); }        // [B, P+R]

  // A float field; one never written reads as zeros (and is created so).
  at::Tensor& field(int32_t which);
  bool has(int32_t which) const { return floats.count(which) > 0; }
  // A float field as a reader sees it, never creating it (an ACTION_MASK created as zeros would
  // mask every token): zeros when never written, the response mask for an unwritten ACTION_MASK.
  at::Tensor read(int32_t which) const;
};

// A new rollout of the given rows of several rollouts (same device and pad id):
// row i of the result is row row_in_part[i] of parts[part_of_row[i]]. Prompts
// stay left-padded and responses right-padded to the longest picked; a float
// field is kept when every part has it.
Rollout gather_rows(const std::vector<const Rollout*>& parts, const std::vector<int64_t>& part_of_row,
                    const std::vector<int64_t>& row_in_part);

bool is_float_field(int32_t which);
bool is_per_sample_field(int32_t which);  // [B] rather than [B, R]

}  // namespace r4j
