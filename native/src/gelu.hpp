// GPT-2's GELU, 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), on float32
// and bf16 CPU tensors: forward and backward one vectorized pass each (ATen's
// takes ~2.5 ns an element in float32 on the 2-core EPYC, a tenth of the MLP's
// time in the learning phase, and ~3.5 in bf16). bf16 computes in float32 and
// rounds once. Elsewhere, and as the twin the tests compare with
// (set_fast_gelu(false)), at::gelu(u, "tanh").
#pragma once

#include <ATen/ATen.h>

namespace r4j {

at::Tensor gelu_tanh(const at::Tensor& u);
void set_fast_gelu(bool on);

}  // namespace r4j
