// AdamW (Loshchilov & Hutter 2019) with global gradient-norm clipping, over
// one model's parameters. Non-float32 parameters get float32 master copies.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "rlhf4j.h"

namespace r4j {

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const r4j_adamw_options& options);

  // Clip, step at learning rate lr, zero the gradients.
  r4j_step_result step(double lr);
  void zero_grad();

  // exp_avg / exp_avg_sq (and master, for non-float32 parameters) per
  // parameter, then "step": the checkpointed state, by name.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }

 private:
  struct Slot {
    std::string name;
    at::Tensor param, exp_avg, exp_avg_sq, master;  // master undefined for float32 params
    bool decay;
  };
  std::vector<Slot> slots_;
  r4j_adamw_options options_;
  int64_t step_ = 0;
};

r4j_adamw_options validate(const r4j_adamw_options& options);

}  // namespace r4j
