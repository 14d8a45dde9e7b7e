// The supervised losses around PPO: SFT's causal LM loss and the reward
// model's pairwise (Bradley-Terry) loss.
#pragma once

#include <ATen/ATen.h>

#include "model.hpp"

namespace r4j {

// -mean over positions t with loss_mask[t] of log p(tokens[t] | tokens[<t]).
// tokens [B, T] int64, mask / loss_mask [B, T] bool. Returns a scalar tensor.
at::Tensor lm_loss(Model& model, const at::Tensor& tokens, const at::Tensor& mask, const at::Tensor& loss_mask);

struct PairwiseLoss {
  at::Tensor loss;      // -mean(log sigmoid(r_chosen - r_rejected))
  at::Tensor accuracy;  // share of pairs with r_chosen > r_rejected
};

PairwiseLoss rm_loss(Model& model, const at::Tensor& chosen, const at::Tensor& chosen_mask,
                     const at::Tensor& rejected, const at::Tensor& rejected_mask);

}  // namespace r4j
