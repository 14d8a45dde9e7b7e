// AdamW (Loshchilov & Hutter 2019) with global gradient-norm clipping, over
// one model's parameters. Non-float32 parameters get float32 master copies.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard: ATen.h brings it in 1.13 only

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

  // Tests switch the one-pass update off to compare it with the ATen twin.
  void set_fused(bool on) { fused_ = on; }

 private:
  struct Slot {
    std::string name;
    at::Tensor param, exp_avg, exp_avg_sq, master;  // master undefined for float32 params
    bool decay;
  };
  struct Hyper {
    double lr, weight_decay, beta1, beta2, eps, sqrt_bias2, step_size, clip;
  };
  static void reference_update(at::Tensor& w, const at::Tensor& grad, at::Tensor& m, at::Tensor& v, bool decay,
                               const Hyper& h);
  // param_bf16, when defined, receives w rounded to bf16 (the parameter of a master).
  static void fused_update(at::Tensor& w, const at::Tensor& grad, at::Tensor& m, at::Tensor& v, bool decay,
                           const Hyper& h, const at::Tensor& param_bf16);

  std::vector<Slot> slots_;
  bool fused_ = true;
  r4j_adamw_options options_;
  int64_t step_ = 0;
};

r4j_adamw_options validate(const r4j_adamw_options& options);

}  // namespace r4j
