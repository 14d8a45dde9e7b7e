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
// way the learning phase computes them, unless options.keep_decoding_logprobs).
// Randomness: one generator seeded by options.seed for the batch, or, with
// row_seeds ([B]), each row's uniforms from its own seed (row_uniforms).
std::unique_ptr<Rollout> generate(Model& model, const at::Tensor& prompts, const at::Tensor& prompt_mask,
                                  const r4j_generate_options& options,
                                  const std::vector<uint64_t>* row_seeds = nullptr);

// generate()'s fast paths, on by default; tests switch each off to compare it
// with its slow twin (same tokens, log-probs within 1e-5):
//   shared prefill: consecutive rows with the same prompt (a group's n
//     samples) prefill it once and share its keys and values (on the CPU a
//     shared prefix of the KV cache, elsewhere a copy per row), instead of
//     prefilling once per row;
//   live rows only: a row that finished (EOS / stop token) leaves the decoding
//     batch (its KV cache rows, mask and state dropped), instead of decoding
//     padding until the longest row ends (above kFewRowsMax rows, once a
//     quarter of the batch has finished: each new row count there repacks
//     oneDNN's weight layout). A shrinking batch multiplies at other row
//     counts, whose kernels sum in another order: log-probs and values move by
//     ~1e-8 against the static batch (a run still repeats itself bit for bit).
//     RLHF4J_LIVE_ROWS=0 turns it off, to repeat a run of a build before it.
//   growing KV cache: each row's keys and values start with room for an eighth
//     of the new tokens and double as the longest row needs more, instead of
//     reserving every position up to max_new_tokens (memory a ragged rollout
//     never writes; paged as a whole, not per row). Attention reads the same
//     keys in the same order. RLHF4J_KV_GROW=0 turns it off.
void set_shared_prefill(bool on);
void set_live_rows_only(bool on);
void set_growing_kv_cache(bool on);
// r4j_bench_force_lengths: row b stops after lengths[b % n] tokens; empty = off.
void set_forced_lengths(std::vector<int64_t> lengths);

}  // namespace r4j
