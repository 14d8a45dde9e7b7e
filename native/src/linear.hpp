// Dense layers: y = x W (+ b). Inference on the CPU in float32 goes through
// oneDNN's matmul when the build has it (about twice OpenBLAS's rate at the
// few-row shapes of token-by-token decoding); everything else, and every pass
// that records gradients, goes through ATen. Tests compare the two paths.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// x [..., in] times w, plus b (undefined = no bias):
//   w_is_out_by_in = false: w [in, out]   (GPT-2's Conv1D)
//   w_is_out_by_in = true:  w [out, in]   (nn.Linear, tied LM heads)
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in);

// The ATen path only: the slow, obvious twin of linear().
at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in);

// Whether linear() may take the oneDNN path (on by default when built with
// oneDNN; tests switch it off to compare).
bool fast_linear_available();
void set_fast_linear(bool on);

}  // namespace r4j
