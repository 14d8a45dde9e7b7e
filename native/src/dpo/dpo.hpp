// Direct preference optimisation (Rafailov et al. 2023) and its family,
// as TRL defines them: every loss is a function of the policy's and the
// reference's log-probs summed over each completion's tokens.
#pragma once

#include <ATen/ATen.h>

#include "model.hpp"
#include "rlhf4j.h"

namespace r4j {

// Per row of tokens [R, T]: log p(tokens[t] | tokens[<t]) summed over the
// completion positions t >= 1 (loss_mask[t] and mask[t]), their count, and
// the sum over them of the mean logit over the vocabulary (TRL's logits/*).
struct SequenceLogps {
  at::Tensor logps;       // [R]: differentiable when grad mode is on
  at::Tensor tokens;      // [R] int64
  at::Tensor logit_sums;  // [R] detached
};

SequenceLogps sequence_logps(Model& model, const at::Tensor& tokens, const at::Tensor& mask,
                             const at::Tensor& loss_mask);

// What a loss of the family reads, per pair [B].
struct PairLogps {
  at::Tensor chosen, rejected;          // pi_c, pi_r: the policy's summed log-probs
  at::Tensor ref_chosen, ref_rejected;  // ref_c, ref_r (zeros without a reference)
  at::Tensor chosen_len, rejected_len;  // completion tokens, as floats
};

// One loss of the family: per-pair losses [B].
using DpoLossFn = at::Tensor (*)(const PairLogps& p, const r4j_dpo_options& o);

// The registry: R4J_DPO_* -> its loss. An unknown value is an error naming it.
DpoLossFn dpo_loss_fn(int32_t loss_type);
const char* dpo_loss_name(int32_t loss_type);
bool dpo_loss_needs_reference(int32_t loss_type);

// Throws with the field's name when an option is out of its range.
void validate(const r4j_dpo_options& o);
bool needs_reference(const r4j_dpo_options& o);

struct DpoLoss {
  at::Tensor loss;        // scalar: sum_k w_k mean_B(loss_k) + rpo_alpha * nll
  at::Tensor logps;       // [2B]: the policy's summed log-probs, chosen rows first (detached)
  r4j_dpo_stats stats;    // sums over the pairs (see rlhf4j.h)
};

// The loss and its pair statistics from summed log-probs alone (the token
// counts and logits of the stats are left 0). with_reference: the rewards are
// beta (pi - ref), else SimPO's beta pi / len.
DpoLoss dpo_objective(const PairLogps& p, bool with_reference, const r4j_dpo_options& options);

// tokens / mask / loss_mask [2B, T]: the B chosen sequences, then the B
// rejected ones, in one forward pass. ref_logps [2B] (same order), or
// undefined when every loss is reference-free.
DpoLoss dpo_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask,
                 const at::Tensor& ref_logps, const r4j_dpo_options& options);

}  // namespace r4j
