// The supervised losses around PPO: SFT's causal LM loss and the reward
// model's pairwise (Bradley-Terry) loss.
#pragma once

#include <ATen/ATen.h>

#include "model.hpp"

namespace r4j {

// -mean over positions t with loss_mask[t] of log p(tokens[t] | tokens[<t]).
// tokens [B, T] int64, mask / loss_mask [B, T] bool. Returns a scalar tensor.
// backward_scale > 0 says the caller will differentiate loss * backward_scale:
// the chunked LM head then forms its gradients in forward (head_logprobs' loss).
at::Tensor lm_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask,
                   double backward_scale = 0);

struct PairwiseLoss {
  at::Tensor loss;      // -mean(log sigmoid(r_chosen - r_rejected))
  at::Tensor accuracy;  // share of pairs with r_chosen > r_rejected
};

PairwiseLoss rm_loss(Model& model, const at::Tensor& chosen, const at::Tensor& chosen_mask,
                     const at::Tensor& rejected, const at::Tensor& rejected_mask);

}  // namespace r4j
