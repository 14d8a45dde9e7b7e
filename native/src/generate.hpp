// Batched, KV-cached generation: the rollout phase.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model.hpp"
#include "rollout.hpp"

namespace r4j {

// prompts: [B, P] int64 left-padded, prompt_mask [B, P] bool (both on the
// model's device). Records tokens, old_logprobs (logits / temperature, before
// filtering) and, with options.with_values, old_values in the same pass
// (bf16 and f16 models: from one forward pass over the finished rollout, the
// way the learning phase computes them).
// Randomness: one generator seeded by options.seed for the batch, or, with
// row_seeds ([B]), each row's uniforms from its own seed (row_uniforms).
std::unique_ptr<Rollout> generate(Model& model, const at::Tensor& prompts, const at::Tensor& prompt_mask,
                                  const r4j_generate_options& options,
                                  const std::vector<uint64_t>* row_seeds = nullptr);

}  // namespace r4j
